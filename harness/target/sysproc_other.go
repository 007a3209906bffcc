//go:build !linux

package target

import "syscall"

func childProcAttr() *syscall.SysProcAttr { return nil }
