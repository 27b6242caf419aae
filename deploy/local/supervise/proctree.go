//go:build linux

package supervise

import (
	"bytes"
	"os"
	"strconv"
)

// process is one entry of /proc.
type process struct {
	pid, ppid, pgid int
	zombie          bool
}

// descendants lists the live (not zombie) descendants of root, read from
// /proc. The walk goes through zombies: a multi-threaded process whose
// first thread has exited shows as a zombie while its other threads are
// still exiting, and until the last one has, its children are still its
// own, not yet handed to the subreaper.
func descendants(root int) []process {
	dir, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := make(map[int][]process)
	for _, e := range dir {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, ok := readStat(pid)
		if ok {
			children[p.ppid] = append(children[p.ppid], p)
		}
	}
	var out []process
	queue := []int{root}
	for len(queue) > 0 {
		for _, c := range children[queue[0]] {
			if !c.zombie {
				out = append(out, c)
			}
			queue = append(queue, c.pid)
		}
		queue = queue[1:]
	}
	return out
}

// readStat reads pid's state, parent and process group from
// /proc/PID/stat. It reports false for a process that is gone.
func readStat(pid int) (process, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return process{}, false
	}
	// "pid (comm) state ppid pgrp ...": comm may hold anything, even ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return process{}, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 3 {
		return process{}, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgid, err2 := strconv.Atoi(string(f[2]))
	if err1 != nil || err2 != nil {
		return process{}, false
	}
	zombie := string(f[0]) == "Z" || string(f[0]) == "X"
	return process{pid: pid, ppid: ppid, pgid: pgid, zombie: zombie}, true
}
