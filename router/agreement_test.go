package router

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestShardSetDisagreementRefusesRouting: two routers whose shard sets
// differ both refuse to route and name each other; once the odd one leaves,
// the other routes again.
func TestShardSetDisagreementRefusesRouting(t *testing.T) {
	t.Parallel()
	redises := startRedises(t, 2)
	r1 := startRouter(t, "r1", redises, func(c *Config) {
		mc := testMembershipConfig("r1", "")
		c.Membership = &mc
	})
	seed := r1.Membership().LocalAddr()
	// r2 sees only shard a: a different shard set (and ring text).
	r2 := startRouter(t, "r2", redises[:1], func(c *Config) {
		mc := testMembershipConfig("r2", "", seed)
		c.Membership = &mc
	})
	refused := func(tr *testRouter) error {
		_, err := tr.Qless(context.Background(), []string{"queues", "1"})
		return err
	}
	waitFor(t, "both routers to see each other", 30*time.Second, func() string {
		if n1, n2 := len(r1.Membership().Members()), len(r2.Membership().Members()); n1 != 2 || n2 != 2 {
			return fmt.Sprintf("r1 sees %d, r2 sees %d routers", n1, n2)
		}
		return ""
	})
	waitFor(t, "both routers to refuse", 10*time.Second, func() string {
		if e1, e2 := refused(r1), refused(r2); !errors.Is(e1, ErrRefused) || !errors.Is(e2, ErrRefused) {
			return fmt.Sprintf("r1: %v; r2: %v", e1, e2)
		}
		return ""
	})
	err := refused(r1)
	if !errors.Is(err, ErrShardSetMismatch) || !strings.Contains(err.Error(), "r2 has") {
		t.Fatalf("r1: Qless error = %v, want a shard-set mismatch naming r2", err)
	}
	if _, err := r2.Read(context.Background(), []string{"ZCARD", "ql:q:x-work"}); !errors.Is(err, ErrRefused) {
		t.Fatalf("r2: Read error = %v, want ErrRefused", err)
	}
	if err := r2.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "r1 to route again after r2 left", 10*time.Second, func() string {
		if err := refused(r1); err != nil {
			return err.Error()
		}
		return ""
	})
}
