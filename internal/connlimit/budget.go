package connlimit

import "syscall"

// OpenFileBudget raises the process's soft RLIMIT_NOFILE to its hard limit
// and returns the soft limit then in force (0 if it cannot be read).
func OpenFileBudget() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Cur < lim.Max {
		raised := syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			lim.Cur = lim.Max
		}
	}
	return lim.Cur
}
