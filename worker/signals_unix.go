//go:build unix

package worker

import (
	"os"
	"syscall"
)

// handledSignals are the signals HandleSignals takes over.
func handledSignals() []os.Signal {
	return []os.Signal{
		syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGCONT,
	}
}

// onSignal applies one signal as qless workers do.
func (w *Worker) onSignal(s os.Signal) {
	w.log.Info("signal received", "signal", s.String())
	switch s {
	case syscall.SIGTERM, syscall.SIGINT:
		w.Stop()
	case syscall.SIGQUIT:
		w.Drain()
	case syscall.SIGUSR1:
		w.KillRunning()
	case syscall.SIGUSR2:
		w.Pause()
		w.DumpStacks()
	case syscall.SIGCONT:
		w.Resume()
	}
}
