package pgtest

import "syscall"

// sysProcAttr runs the process as cred, if not nil, and kills it when the
// test binary dies without running its cleanups, such as on a panic or a
// go test -timeout.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
}
