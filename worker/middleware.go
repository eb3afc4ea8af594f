package worker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/qless-router/qless-router/client"
)

// Backoff gives the delay before the attempt-th retry of a job (1 for the
// retry after the first failure).
type Backoff func(attempt int) time.Duration

// ConstantBackoff waits d before every retry.
func ConstantBackoff(d time.Duration) Backoff {
	return func(int) time.Duration { return d }
}

// ExponentialBackoff waits base, 2*base, 4*base, ... and at most max
// (max <= 0: no bound).
func ExponentialBackoff(base, max time.Duration) Backoff {
	return func(attempt int) time.Duration {
		if attempt < 1 {
			attempt = 1
		}
		d := float64(base) * math.Pow(2, float64(attempt-1))
		if max > 0 && d > float64(max) {
			return max
		}
		if d > math.MaxInt64 {
			return time.Duration(math.MaxInt64)
		}
		return time.Duration(d)
	}
}

// permanentError marks an error that Retry must not retry.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: the Retry middleware lets it
// through at once, and the job fails with it (in err's own group).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// RetriedError is what the Retry middleware returns after it gave a job
// back to its queue: it matches ErrSettled (so the worker leaves the job
// alone) and unwraps to the handler's error.
type RetriedError struct {
	// Err is the handler's error.
	Err error
	// Delay is the backoff the job waits before it can run again.
	Delay time.Duration
	// Remaining is the job's retries left after this one.
	Remaining int
}

func (e *RetriedError) Error() string {
	return fmt.Sprintf("retried in %v (%d retries left): %v", e.Delay, e.Remaining, e.Err)
}

// Unwrap returns the handler's error and ErrSettled.
func (e *RetriedError) Unwrap() []error { return []error{e.Err, ErrSettled} }

// Retry returns middleware that, when the handler fails, gives the job back
// to its queue (qless `retry`) to run again after backoff(attempt), as long
// as the job has retries left (its Remaining; attempt counts from the
// job's Retries). The failure's group and message are recorded with the
// retry. Errors marked Permanent, panics, jobs without retries left and jobs
// whose context has ended (lost lock, stop) pass through unchanged, and the
// worker fails them as usual.
//
// In ProcessPerJob mode, register Retry worker-wide (Worker.Use), which runs
// in the worker's process: a child cannot act on the job's lock.
func Retry(backoff Backoff) Middleware {
	if backoff == nil {
		backoff = ConstantBackoff(0)
	}
	return func(next Handler) Handler {
		return func(ctx context.Context, job *client.Job) error {
			err := next(ctx, job)
			if err == nil || errors.Is(err, ErrSettled) || IsPermanent(err) || ctx.Err() != nil {
				return err
			}
			var p *PanicError
			if errors.As(err, &p) || job.Remaining <= 0 {
				return err
			}
			attempt := job.Retries - job.Remaining + 1
			if attempt < 1 {
				attempt = 1
			}
			delay := backoff(attempt)
			left, rerr := job.Retry(ctx, client.WithDelay(delay),
				client.WithFailure(Group(job.Klass, err), err.Error()))
			if rerr != nil {
				return fmt.Errorf("%w (and retry failed: %w)", err, rerr)
			}
			return &RetriedError{Err: err, Delay: delay, Remaining: left}
		}
	}
}

// PanicError is the error of a handler that panicked. Its group is "panic"
// and its message holds the panic value and the stack.
type PanicError struct {
	// Value is what was passed to panic.
	Value any
	// Stack is the goroutine's stack at the panic (runtime/debug.Stack).
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("panic: %v\n\n%s", e.Value, e.Stack)
}

// Group is "panic".
func (e *PanicError) Group() string { return "panic" }
