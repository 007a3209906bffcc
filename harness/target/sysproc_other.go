//go:build !linux

package target

import (
	"os"
	"syscall"
)

func childProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup signals p alone: without Linux's process groups set up by childProcAttr.
func signalGroup(p *os.Process, sig syscall.Signal) error { return p.Signal(sig) }
