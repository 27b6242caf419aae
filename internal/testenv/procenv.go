package testenv

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// ProcessesWithEnv lists the live (not zombie) processes whose environment
// holds kv ("NAME=value"). Tests put a unique marker in the environment of
// the processes they start, so they can find every descendant later, even
// one reparented to PID 1.
func ProcessesWithEnv(kv string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !Alive(pid) {
			continue
		}
		env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if slices.ContainsFunc(bytes.Split(env, []byte{0}), func(v []byte) bool { return string(v) == kv }) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// CommandsWithEnv lists the command lines, arguments joined by spaces, of
// the processes ProcessesWithEnv(kv) finds.
func CommandsWithEnv(kv string) []string {
	var cmds []string
	for _, pid := range ProcessesWithEnv(kv) {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err != nil || len(b) == 0 {
			continue // gone meanwhile
		}
		cmds = append(cmds, string(bytes.ReplaceAll(bytes.TrimSuffix(b, []byte{0}), []byte{0}, []byte{' '})))
	}
	return cmds
}

// KillProcessesWithEnv sends SIGKILL to the processes ProcessesWithEnv(kv)
// finds, so that a failed test leaves none of its processes behind.
func KillProcessesWithEnv(kv string) {
	for _, pid := range ProcessesWithEnv(kv) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
