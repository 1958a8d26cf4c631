//go:build unix && !linux

package rie

import "syscall"

// sysProcAttr puts the emulator in its own process group.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
