package client

import (
	"encoding/json"
	"fmt"

	"github.com/redis/rueidis"

	"github.com/qless-router/qless-router/core"
)

// result is the reply of one qless call: a RESP message, or, for a test
// job, a fabricated core.Reply.
type result struct {
	msg  rueidis.RedisMessage
	fake *core.Reply
}

func (r result) isNil() bool {
	if r.fake != nil {
		return r.fake.Type == core.ReplyNil
	}
	return r.msg.IsNil()
}

func (r result) str() (string, error) {
	if r.fake != nil {
		return r.fake.Str, nil
	}
	if r.msg.IsNil() {
		return "", nil
	}
	s, err := r.msg.ToString()
	if err != nil {
		if n, err2 := r.msg.AsInt64(); err2 == nil {
			return fmt.Sprint(n), nil
		}
		return "", fmt.Errorf("client: unexpected reply: %w", err)
	}
	return s, nil
}

func (r result) int() (int64, error) {
	if r.fake != nil {
		return r.fake.Int, nil
	}
	n, err := r.msg.AsInt64()
	if err != nil {
		return 0, fmt.Errorf("client: unexpected reply: %w", err)
	}
	return n, nil
}

func (r result) strings() ([]string, error) {
	if r.fake != nil {
		return r.fake.Array, nil
	}
	if r.msg.IsNil() {
		return nil, nil
	}
	a, err := r.msg.AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("client: unexpected reply: %w", err)
	}
	return a, nil
}

// json decodes a JSON reply into v.
func (r result) json(v any) error {
	s, err := r.str()
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("client: decode reply %.60q: %w", s, err)
	}
	return nil
}

// jsonStrings decodes a qless JSON list of strings (`{}` when empty).
func (r result) jsonStrings() ([]string, error) {
	s, err := r.str()
	if err != nil {
		return nil, err
	}
	list, err := core.DecodeList[string]([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("client: decode reply %.60q: %w", s, err)
	}
	return list, nil
}
