package worker

import "sync"

// tailBuffer is an io.Writer that keeps the last max bytes written. Safe for
// concurrent use.
type tailBuffer struct {
	mu   sync.Mutex
	max  int
	buf  []byte // guarded by mu
	lost bool   // guarded by mu; earlier bytes were dropped
}

func newTail(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if t.max <= 0 {
		t.lost = t.lost || n > 0
		return n, nil
	}
	if len(p) >= t.max {
		t.lost = t.lost || len(t.buf) > 0 || len(p) > t.max
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.lost = true
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// String returns the kept bytes, prefixed with "..." when earlier ones were
// dropped.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.lost {
		return "..." + string(t.buf)
	}
	return string(t.buf)
}
