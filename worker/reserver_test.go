package worker

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/qless-router/qless-router/client"
	"github.com/qless-router/qless-router/core"
)

// fakeQueues is a PopFunc over in-memory queues of jids that records the
// order of the pops.
type fakeQueues struct {
	jobs  map[string][]string
	asked []string
	fail  map[string]error
}

func (f *fakeQueues) pop(_ context.Context, queue string, n int) ([]*client.Job, error) {
	f.asked = append(f.asked, queue)
	if err := f.fail[queue]; err != nil {
		return nil, err
	}
	var out []*client.Job
	for len(out) < n && len(f.jobs[queue]) > 0 {
		out = append(out, client.NewTestJob(core.Job{JID: f.jobs[queue][0], Queue: queue}))
		f.jobs[queue] = f.jobs[queue][1:]
	}
	return out, nil
}

func jids(jobs []*client.Job) []string {
	out := []string{}
	for _, j := range jobs {
		out = append(out, j.JID)
	}
	return out
}

func TestOrderedTakesFromTheFirstQueueWithWork(t *testing.T) {
	t.Parallel()
	f := &fakeQueues{jobs: map[string][]string{"a": {"a1"}, "b": {"b1", "b2", "b3"}, "c": {"c1"}}}
	r := Ordered()
	qs := []string{"a", "b", "c"}
	got, err := r.Reserve(context.Background(), qs, 3, f.pop)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a1", "b1", "b2"}, jids(got)); diff != "" {
		t.Errorf("Reserve(3) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "b"}, f.asked); diff != "" {
		t.Errorf("queues asked (-want +got):\n%s", diff)
	}
	got, _ = r.Reserve(context.Background(), qs, 1, f.pop)
	if diff := cmp.Diff([]string{"b3"}, jids(got)); diff != "" {
		t.Errorf("second Reserve(1) (-want +got):\n%s", diff)
	}
}

func TestOrderedKeepsJobsPoppedBeforeAnError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	f := &fakeQueues{jobs: map[string][]string{"a": {"a1"}}, fail: map[string]error{"b": boom}}
	got, err := Ordered().Reserve(context.Background(), []string{"a", "b", "c"}, 5, f.pop)
	if !errors.Is(err, boom) {
		t.Errorf("Reserve error = %v, want %v", err, boom)
	}
	if diff := cmp.Diff([]string{"a1"}, jids(got)); diff != "" {
		t.Errorf("jobs with the error (-want +got):\n%s", diff)
	}
}

func TestRoundRobinRotatesTheFirstQueue(t *testing.T) {
	t.Parallel()
	f := &fakeQueues{jobs: map[string][]string{
		"a": {"a1", "a2", "a3"}, "b": {"b1", "b2", "b3"}, "c": {"c1", "c2", "c3"},
	}}
	r := RoundRobin()
	qs := []string{"a", "b", "c"}
	var got []string
	for range 6 {
		jobs, err := r.Reserve(context.Background(), qs, 1, f.pop)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, jids(jobs)...)
	}
	if diff := cmp.Diff([]string{"a1", "b1", "c1", "a2", "b2", "c2"}, got); diff != "" {
		t.Errorf("six Reserve(1) (-want +got):\n%s", diff)
	}
	// An empty queue in its turn gives way to the next one.
	f.jobs["b"] = nil
	f.asked = nil
	got = nil
	for range 2 {
		jobs, _ := r.Reserve(context.Background(), qs, 1, f.pop)
		got = append(got, jids(jobs)...)
	}
	if diff := cmp.Diff([]string{"a3", "c3"}, got); diff != "" {
		t.Errorf("Reserve with b empty (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, f.asked); diff != "" {
		t.Errorf("queues asked with b empty (-want +got):\n%s", diff)
	}
}

func TestShuffledRoundRobinVisitsEveryQueueOncePerRound(t *testing.T) {
	t.Parallel()
	r := ShuffledRoundRobin(rand.New(rand.NewPCG(1, 2)))
	qs := []string{"a", "b", "c", "d", "e"}
	var firsts []string
	pop := func(_ context.Context, queue string, n int) ([]*client.Job, error) {
		firsts = append(firsts, queue)
		return []*client.Job{client.NewTestJob(core.Job{Queue: queue})}, nil
	}
	var rounds [][]string
	for range 4 {
		firsts = nil
		for range len(qs) {
			if _, err := r.Reserve(context.Background(), qs, 1, pop); err != nil {
				t.Fatal(err)
			}
		}
		round := slices.Clone(firsts)
		rounds = append(rounds, round)
		slices.Sort(firsts)
		if !slices.Equal(firsts, qs) {
			t.Fatalf("one round started at %v, want each of %v once", round, qs)
		}
	}
	same := true
	for _, r := range rounds[1:] {
		same = same && slices.Equal(r, rounds[0])
	}
	if same {
		t.Errorf("four rounds in the same order %v: not shuffled", rounds[0])
	}
}

func TestReserverFunc(t *testing.T) {
	t.Parallel()
	// A custom reserver: only the last queue.
	last := ReserverFunc(func(ctx context.Context, queues []string, n int, pop PopFunc) ([]*client.Job, error) {
		return pop(ctx, queues[len(queues)-1], n)
	})
	f := &fakeQueues{jobs: map[string][]string{"a": {"a1"}, "b": {"b1"}}}
	got, err := last.Reserve(context.Background(), []string{"a", "b"}, 2, f.pop)
	if err != nil || !slices.Equal(jids(got), []string{"b1"}) {
		t.Errorf("custom Reserve = %v, %v; want [b1]", jids(got), err)
	}
}
