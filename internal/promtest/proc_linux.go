package promtest

import "syscall"

// sysProcAttr kills Prometheus when the test binary dies without running
// its cleanups, such as on a panic or a go test -timeout.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
