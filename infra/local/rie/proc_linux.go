package rie

import "syscall"

// sysProcAttr puts the emulator in its own process group (with the bootstrap
// it starts) and has the kernel kill it when the parent dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
