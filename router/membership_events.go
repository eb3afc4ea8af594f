package router

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// memberMeta is what a router advertises in its memberlist node metadata.
// It is JSON with short keys; V is the format version, for future changes.
type memberMeta struct {
	V        int    `json:"v"`
	RESP     string `json:"r,omitempty"`
	HTTP     string `json:"h,omitempty"`
	ShardSet string `json:"s,omitempty"`
}

const memberMetaVersion = 1

func (mm *memberMeta) encode() []byte {
	return encodeMemberMeta(mm.RESP, mm.HTTP, mm.ShardSet)
}

func encodeMemberMeta(resp, http, shardSet string) []byte {
	b, err := json.Marshal(memberMeta{V: memberMetaVersion, RESP: resp, HTTP: http, ShardSet: shardSet})
	if err != nil {
		panic("membership: encoding node metadata: " + err.Error()) // strings always encode
	}
	return b
}

// memberFromNode builds a Member from a memberlist node. Undecodable metadata
// (a router of another version) yields empty addresses and shard set, which
// Agreement reports as a disagreement.
func memberFromNode(n *memberlist.Node, logger *slog.Logger) Member {
	mem := Member{Name: n.Name, GossipAddr: n.Address()}
	var mm memberMeta
	if err := json.Unmarshal(n.Meta, &mm); err != nil {
		logger.Warn("membership: undecodable node metadata", "member", n.Name, "err", err)
		return mem
	}
	mem.RESPAddr, mem.HTTPAddr, mem.ShardSet = mm.RESP, mm.HTTP, mm.ShardSet
	return mem
}

// upsertNode records a live member and publishes a new snapshot. It is
// called from memberlist callbacks, which hold memberlist's node lock: it
// takes only nodesMu and never blocks on anything else.
func (m *Membership) upsertNode(n *memberlist.Node) {
	mem := memberFromNode(n, m.logger)
	m.nodesMu.Lock()
	if m.nodes != nil {
		m.nodes[mem.Name] = mem
		m.publishLocked()
	}
	m.nodesMu.Unlock()
	m.signalChange()
}

// removeNode forgets a member that died or left.
func (m *Membership) removeNode(name string) {
	m.nodesMu.Lock()
	if m.nodes != nil {
		delete(m.nodes, name)
		m.publishLocked()
	}
	m.nodesMu.Unlock()
	m.signalChange()
}

// publishLocked stores a fresh sorted snapshot of m.nodes. nodesMu is held.
func (m *Membership) publishLocked() {
	s := make([]Member, 0, len(m.nodes))
	for _, mem := range m.nodes {
		s = append(s, mem)
	}
	slices.SortFunc(s, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	m.snapshot.Store(&s)
}

// closeNodes empties the snapshot for good; later callbacks are ignored.
func (m *Membership) closeNodes() {
	m.nodesMu.Lock()
	m.nodes = nil
	empty := []Member{}
	m.snapshot.Store(&empty)
	m.nodesMu.Unlock()
}

// signalChange marks a change pending for notifyLoop without blocking.
func (m *Membership) signalChange() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// notifyLoop tells subscribers about changes, gathering those that arrive
// within ChangeCoalesce of the first into one notification.
func (m *Membership) notifyLoop(ctx context.Context) {
	var timer *time.Timer
	if m.cfg.ChangeCoalesce > 0 {
		timer = time.NewTimer(0)
		<-timer.C
		defer timer.Stop()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.changed:
		}
		if timer != nil {
			timer.Reset(m.cfg.ChangeCoalesce)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			// Changes during the window are covered by this notification:
			// subscribers read the snapshot after it.
			select {
			case <-m.changed:
			default:
			}
		}
		m.subsMu.Lock()
		for s := range m.subs {
			select {
			case s.ch <- struct{}{}:
			default: // one is already pending for this subscriber
			}
		}
		m.subsMu.Unlock()
	}
}

type membershipSub struct{ ch chan struct{} }

// Subscribe returns a channel that receives a value after the member list or
// a member's metadata changes; bursts of changes are coalesced (see
// ChangeCoalesce) and a slow reader gets one pending value, never a backlog.
// Read Members or Agreement after a receive. The returned function
// unsubscribes; it is idempotent. The channel is never closed. Subscribe may
// be called before Start.
func (m *Membership) Subscribe() (<-chan struct{}, func()) {
	s := &membershipSub{ch: make(chan struct{}, 1)}
	m.subsMu.Lock()
	m.subs[s] = struct{}{}
	m.subsMu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			m.subsMu.Lock()
			delete(m.subs, s)
			m.subsMu.Unlock()
		})
	}
}

// membershipDelegate supplies this router's node metadata to memberlist. It
// carries no user messages or extra state.
type membershipDelegate Membership

var _ memberlist.Delegate = (*membershipDelegate)(nil)

func (d *membershipDelegate) NodeMeta(limit int) []byte {
	b := (*Membership)(d).meta.Load().encode()
	if len(b) > limit {
		// Validate and UpdateShardSet keep this from happening; advertise
		// nothing rather than let memberlist panic.
		(*Membership)(d).logger.Error("membership: node metadata over limit", "bytes", len(b), "limit", limit)
		return nil
	}
	return b
}

func (d *membershipDelegate) NotifyMsg([]byte)                           {}
func (d *membershipDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *membershipDelegate) LocalState(join bool) []byte                { return nil }
func (d *membershipDelegate) MergeRemoteState(buf []byte, join bool)     {}

// membershipEvents receives memberlist's join, leave and update events.
// memberlist calls it serially while holding its node lock: it must not
// block or call back into memberlist.
type membershipEvents Membership

var _ memberlist.EventDelegate = (*membershipEvents)(nil)

func (e *membershipEvents) NotifyJoin(n *memberlist.Node)   { (*Membership)(e).upsertNode(n) }
func (e *membershipEvents) NotifyUpdate(n *memberlist.Node) { (*Membership)(e).upsertNode(n) }
func (e *membershipEvents) NotifyLeave(n *memberlist.Node)  { (*Membership)(e).removeNode(n.Name) }

// membershipConflicts logs routers that claim a name already taken.
type membershipConflicts Membership

var _ memberlist.ConflictDelegate = (*membershipConflicts)(nil)

func (c *membershipConflicts) NotifyConflict(existing, other *memberlist.Node) {
	(*Membership)(c).logger.Warn("membership: two routers use one node name",
		"member", existing.Name, "existing_addr", existing.Address(), "other_addr", other.Address())
}

// membershipLogWriter turns memberlist's log lines ("[LEVEL] memberlist:
// text") into slog records: errors at warn level, the rest at debug.
type membershipLogWriter struct{ logger *slog.Logger }

func (w *membershipLogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := ""
	if strings.HasPrefix(line, "[") {
		if i := strings.IndexByte(line, ']'); i > 0 {
			level, line = line[1:i], strings.TrimSpace(line[i+1:])
		}
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	lvl := slog.LevelDebug
	if level == "ERR" {
		lvl = slog.LevelWarn
	}
	ctx := context.Background()
	if w.logger.Enabled(ctx, lvl) {
		w.logger.Log(ctx, lvl, "memberlist: "+line, "memberlist_level", level)
	}
	return len(p), nil
}
