//go:build !unix

package worker

import "os"

func handledSignals() []os.Signal { return []os.Signal{os.Interrupt} }

func (w *Worker) onSignal(s os.Signal) {
	w.log.Info("signal received", "signal", s.String())
	w.Stop()
}
