package k8stest

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Pod CIDRs come from 127.64.0.0/10, one /16 per Env: several test binaries run at once
// (go test runs packages in parallel), each with its own KWOK, and their pods must not get
// the same IP, or one package's replica would answer another's traffic.
const (
	firstPodNet = 64  // 127.64.0.0/16
	lastPodNet  = 127 // 127.127.0.0/16
)

// reservePodCIDR returns the first /16 of 127.64.0.0/10 that no other Env on this machine
// holds, and a function that gives it back. The reservation is an flock on a file in the
// temp directory, so it ends when the process does, however it ends.
func reservePodCIDR() (cidr string, release func(), err error) {
	dir := filepath.Join(os.TempDir(), "gantry-k8s-podnets")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return "", nil, fmt.Errorf("pod CIDR reservations: %w", err)
	}
	for n := firstPodNet; n <= lastPodNet; n++ {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("127.%d", n)), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			return "", nil, fmt.Errorf("pod CIDR reservations: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		return fmt.Sprintf("127.%d.0.0/16", n), func() { f.Close() }, nil
	}
	return "", nil, fmt.Errorf("every pod CIDR in 127.%d.0.0-127.%d.0.0 is held by another test process (locks in %s)", firstPodNet, lastPodNet, dir)
}
