//go:build chaos

package chaos

import (
	"strings"
	"testing"
)

// TestVerify checks the final check itself, without Docker: each kind of
// violation is reported, and a clean end state passes.
func TestVerify(t *testing.T) {
	t.Parallel()
	owner := map[string]string{"qa": "s1", "qb": "s2"}
	done := func(shard, q string) copyOf {
		return copyOf{Shard: shard, State: "complete", Completed: true, LastPut: q}
	}
	led := func(route ...string) map[string]record {
		return map[string]record{"j1": {Route: route, Confirmed: true, Runs: map[string]int{}}}
	}
	tests := []struct {
		name   string
		led    map[string]record
		shards map[string]shardState
		want   string // a problem containing this; "" for none
	}{
		{"clean move", led("qa", "qb"), map[string]shardState{"s1": {}, "s2": {Jobs: map[string]copyOf{"j1": done("s2", "qb")}}}, ""},
		{"lost", led("qa"), map[string]shardState{"s1": {}, "s2": {}}, "LOST"},
		{"duplicate", led("qa"), map[string]shardState{"s1": {Jobs: map[string]copyOf{"j1": done("s1", "qa")}}, "s2": {Jobs: map[string]copyOf{"j1": done("s2", "qa")}}}, "DUPLICATE"},
		{"not complete", led("qa"), map[string]shardState{"s1": {Jobs: map[string]copyOf{"j1": {Shard: "s1", State: "waiting", LastPut: "qa"}}}}, "WRONG END"},
		{"left in the first queue", led("qa", "qb"), map[string]shardState{"s1": {Jobs: map[string]copyOf{"j1": done("s1", "qa")}}}, "WRONG END"},
		{"on the wrong shard", led("qa"), map[string]shardState{"s2": {Jobs: map[string]copyOf{"j1": done("s2", "qa")}}}, "WRONG END"},
		{"extra", led("qa"), map[string]shardState{"s1": {Jobs: map[string]copyOf{"j1": done("s1", "qa"), "j9": done("s1", "qa")}}}, "EXTRA"},
		{"outbox", led("qa"), map[string]shardState{"s1": {Pending: 2, Jobs: map[string]copyOf{"j1": done("s1", "qa")}}}, "outbox"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := verify(tt.led, tt.shards, owner)
			got := strings.Join(v.Problems, "\n")
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("verify problems = %q, want one with %q", got, tt.want)
			}
		})
	}
}
