package target

import "syscall"

// childProcAttr makes the kernel kill the exporter if the harness dies first, so a crashed
// test run leaves no exporter listening.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
