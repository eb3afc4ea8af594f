package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/qless-router/qless-router/core"
)

// requestError is a request the handler rejects itself (a bad parameter).
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{msg: fmt.Sprintf(format, args...)}
}

// notFoundError is an object that does not exist.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }

// replyError is a qless reply of an unexpected shape.
type replyError struct {
	cmd string
	err error
}

func (e *replyError) Error() string { return fmt.Sprintf("unexpected reply to %s: %v", e.cmd, e.err) }
func (e *replyError) Unwrap() error { return e.err }

// failure is how an error is reported to an HTTP client.
type failure struct {
	Status int      `json:"-"`
	Error  string   `json:"error"`
	Shards []string `json:"shards,omitempty"`
}

// classify maps an error to its HTTP status and message: the script's
// answer is the client's fault (400, with the qless message), shards that
// did not answer make the service unavailable (503, naming them).
func classify(err error) failure {
	var (
		req *requestError
		nf  *notFoundError
		se  *core.ScriptError
		fe  *core.FanOutError
		she *core.ShardError
		re  *replyError
	)
	switch {
	case errors.As(err, &req):
		return failure{Status: http.StatusBadRequest, Error: req.msg}
	case errors.As(err, &nf):
		return failure{Status: http.StatusNotFound, Error: nf.msg}
	case errors.As(err, &se):
		msg := se.Message
		if msg == "" {
			msg = se.Text
		}
		return failure{Status: http.StatusBadRequest, Error: msg}
	case errors.As(err, &fe):
		return failure{Status: http.StatusServiceUnavailable, Error: fe.Error(), Shards: fe.Shards()}
	case errors.As(err, &she):
		return failure{Status: http.StatusServiceUnavailable, Error: she.Error(), Shards: []string{she.Shard}}
	case errors.Is(err, core.ErrNoShards), errors.Is(err, core.ErrShardDown), errors.Is(err, core.ErrStopped):
		return failure{Status: http.StatusServiceUnavailable, Error: err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return failure{Status: http.StatusGatewayTimeout, Error: err.Error()}
	case errors.As(err, &re):
		return failure{Status: http.StatusBadGateway, Error: re.Error()}
	default:
		return failure{Status: http.StatusInternalServerError, Error: err.Error()}
	}
}
