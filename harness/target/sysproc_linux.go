package target

import (
	"errors"
	"os"
	"syscall"
)

// childProcAttr puts a child in a process group of its own, so that a stop reaches whatever it
// starts too, and makes the kernel kill it if the harness dies first, so a crashed test run leaves
// nothing listening.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// signalGroup sends sig to the process group p leads (childProcAttr made it a leader).
func signalGroup(p *os.Process, sig syscall.Signal) error {
	err := syscall.Kill(-p.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}
