package conformance

import (
	"fmt"
	"strconv"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Event is one pub/sub message: its channel and payload.
type Event struct {
	Channel string
	Payload string
}

func (e Event) String() string { return e.Channel + " " + strconv.Quote(e.Payload) }

// ev builds an expected event.
func ev(channel, payload string) Event { return Event{Channel: channel, Payload: payload} }

// fenceChannel carries the marker that ends an event capture. It is a ql:
// channel so that it takes the same path as qless events through a router.
const fenceChannel = "ql:conformance:fence"

// events captures the pub/sub messages published while fn runs: it
// PSUBSCRIBEs to `*` on a dedicated connection, runs fn, publishes a unique
// fence message and reads until the fence arrives (with a deadline). It
// returns the messages before the fence, in order; fence-channel messages are
// dropped.
func (h *H) events(fn func()) []Event {
	h.t.Helper()
	sub, err := dialRESP(h.s.target.Addr, h.s.timeout)
	if err != nil {
		h.t.Fatalf("conformance: subscriber: %v", err)
	}
	defer sub.Close()
	v, err := sub.do("PSUBSCRIBE", "*")
	if err != nil {
		h.t.Fatalf("conformance: PSUBSCRIBE *: %v", err)
	}
	if a, ok := v.([]any); !ok || len(a) != 3 || a[0] != "psubscribe" {
		h.t.Fatalf("conformance: PSUBSCRIBE * = %#v, want a psubscribe confirmation", v)
	}

	fn()

	h.s.fences++
	fence := fmt.Sprintf("fence-%d-%d", time.Now().UnixNano(), h.s.fences)
	if _, err := h.raw("PUBLISH", fenceChannel, fence); err != nil {
		h.t.Fatalf("conformance: PUBLISH fence: %v", err)
	}
	deadline := time.Now().Add(h.s.timeout)
	var out []Event
	for {
		v, err := sub.read(deadline)
		if err != nil {
			h.t.Fatalf("conformance: waiting for fence %s (got %v so far): %v", fence, out, err)
		}
		a, ok := v.([]any)
		if !ok || len(a) != 4 || a[0] != "pmessage" {
			h.t.Fatalf("conformance: subscriber got %#v, want a pmessage", v)
		}
		ch, _ := a[2].(string)
		payload, _ := a[3].(string)
		if ch == fenceChannel {
			if payload == fence {
				return out
			}
			continue
		}
		out = append(out, Event{Channel: ch, Payload: payload})
	}
}

// wantEvents runs fn and checks the events it publishes, in order.
func (h *H) wantEvents(fn func(), want ...Event) {
	h.t.Helper()
	got := h.events(fn)
	if want == nil {
		want = []Event{}
	}
	if got == nil {
		got = []Event{}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		h.t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}
