package worker

import (
	"context"
	"os"
	"os/signal"
	"sync"
)

// HandleSignals makes the process's signals control the worker, as in
// qless, until ctx ends or the returned stop is called:
//
//	TERM, INT  Stop: stop now (running jobs are canceled)
//	QUIT       Drain: finish the running jobs, then Run returns
//	USR1       KillRunning: kill the running jobs and carry on
//	USR2       Pause, and write every goroutine's stack (DumpStacks)
//	CONT       Resume
//
// On systems without these signals only an interrupt is handled (Stop).
// Config.HandleSignals makes Run call it.
func (w *Worker) HandleSignals(ctx context.Context) (stop func()) {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, handledSignals()...)
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		defer signal.Stop(ch)
		for {
			select {
			case s := <-ch:
				w.onSignal(s)
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-exited
		})
	}
}
