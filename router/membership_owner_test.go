package router

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func ownerTestMembers(names ...string) []Member {
	ms := make([]Member, 0, len(names))
	for _, n := range names {
		ms = append(ms, Member{Name: n})
	}
	return ms
}

func TestMembershipOwnerEmpty(t *testing.T) {
	t.Parallel()
	if got := Owner(nil, "q1"); got != "" {
		t.Errorf("Owner(nil, %q) = %q, want empty", "q1", got)
	}
}

func TestMembershipOwnerDeterministicAndOrderIndependent(t *testing.T) {
	t.Parallel()
	members := ownerTestMembers("r1", "r2", "r3", "r4", "r5")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		key := fmt.Sprintf("queue-%d", i)
		want := Owner(members, key)
		shuffled := slices.Clone(members)
		rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		if got := Owner(shuffled, key); got != want {
			t.Fatalf("Owner(shuffled, %q) = %q, want %q", key, got, want)
		}
	}
}

// TestOwnerStableUnderRemoval checks the rendezvous property: removing a
// member moves exactly the keys it owned, and spreads them over the rest.
func TestMembershipOwnerStableUnderRemoval(t *testing.T) {
	t.Parallel()
	names := []string{"r1", "r2", "r3", "r4", "r5"}
	all := ownerTestMembers(names...)
	const keys = 5000
	before := make([]string, keys)
	counts := map[string]int{}
	for i := range keys {
		before[i] = Owner(all, fmt.Sprintf("k%d", i))
		counts[before[i]]++
	}
	for _, n := range names {
		// Every member owns a fair share: 1000 expected, allow wide slack.
		if c := counts[n]; c < 800 || c > 1200 {
			t.Errorf("member %s owns %d of %d keys, want about %d", n, c, keys, keys/len(names))
		}
	}
	for removed := range names {
		rest := slices.Delete(slices.Clone(all), removed, removed+1)
		gone := names[removed]
		moved := map[string]int{}
		for i := range keys {
			key := fmt.Sprintf("k%d", i)
			got := Owner(rest, key)
			if before[i] != gone {
				if got != before[i] {
					t.Fatalf("without %s: Owner(%q) = %q, want unchanged %q", gone, key, got, before[i])
				}
				continue
			}
			if got == gone {
				t.Fatalf("without %s: Owner(%q) = %q, a removed member", gone, key, got)
			}
			moved[got]++
		}
		if len(moved) != len(rest) {
			t.Errorf("without %s: its keys moved to %v, want spread over all %d others", gone, moved, len(rest))
		}
	}
}

func TestMembershipOwnerScoreSeparatesNameAndKey(t *testing.T) {
	t.Parallel()
	if ownerScore("ab", "c") == ownerScore("a", "bc") {
		t.Error(`ownerScore("ab", "c") == ownerScore("a", "bc"), want different`)
	}
}
