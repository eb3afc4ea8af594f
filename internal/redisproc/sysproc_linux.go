package redisproc

import (
	"os/exec"
	"syscall"
)

// detach puts the server in its own process group, so that a Ctrl-C meant
// for the parent does not kill it before the parent shuts down in order, and
// has the kernel kill it if the parent dies without cleaning up.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
