//go:build !unix

package worker

import "os/exec"

func isolate(cmd *exec.Cmd) {
	cmd.Cancel = func() error { return cmd.Process.Kill() }
}
