package craft

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestElectProposeRead(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	ctx := ctxT(t, 10*time.Second)
	var last uint64
	for i := 0; i < 50; i++ {
		res, err := l.Propose(ctx, []byte("set "+key(i%10)+" "+fmt.Sprint(i)))
		if err != nil {
			t.Fatalf("propose %d: %v", i, err)
		}
		if res.Index <= last || res.Term == 0 {
			t.Fatalf("receipt %+v after index %d", res, last)
		}
		last = res.Index
		if i >= 10 && string(res.Data) != fmt.Sprint(i-10) {
			t.Fatalf("apply result %q, want %q", res.Data, fmt.Sprint(i-10))
		}
	}
	// Linearizable reads see every completed write, on the leader and on
	// a follower.
	for _, n := range c.nodes {
		f := c.fsms[n.ID()]
		var got string
		if err := n.Read(ctx, func() error { got = f.m[key(9)]; return nil }); err != nil {
			t.Fatalf("read on %d: %v", n.ID(), err)
		}
		if got != "49" {
			t.Fatalf("read on %d: %q, want 49", n.ID(), got)
		}
	}
	c.converge(last)
	c.sameState()

	st, err := l.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Role != RoleLeader || st.Leader != l.ID() || st.CommitIndex < last || len(st.Members) != 3 {
		t.Fatalf("status %+v", st)
	}
	for _, m := range st.Members {
		if !m.Voter || m.Match == 0 {
			t.Fatalf("member %+v", m)
		}
	}
	if RoleLeader.String() != "leader" {
		t.Fatal(RoleLeader.String())
	}
	ms := l.Metrics()
	if ms["craft_proposals_total"] < 50 {
		t.Fatalf("metrics %v", ms)
	}
	txt, err := l.MetricsText()
	if err != nil || len(txt) == 0 {
		t.Fatalf("metrics text %q %v", txt, err)
	}
	if len(Metrics()) < 20 || Metrics()[0].Kind != Counter {
		t.Fatalf("metric list %+v", Metrics())
	}
}

func TestProposeOnFollowerGivesLeader(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	for id, n := range c.nodes {
		if id == l.ID() {
			continue
		}
		_, err := n.Propose(ctxT(t, 5*time.Second), []byte("set a b"))
		var nl *NotLeaderError
		if !errors.As(err, &nl) || !errors.Is(err, ErrNotLeader) {
			t.Fatalf("propose on follower: %v", err)
		}
		if nl.Leader != l.ID() {
			t.Fatalf("leader hint %d, want %d", nl.Leader, l.ID())
		}
	}
}

func TestLeaderLossAndRestart(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.propose("set a 1")
	old := c.leader()
	// Cut the leader off: the others elect another one; the old leader's
	// proposals fail by their deadline (or as it steps down).
	if err := c.hub.Isolate(old.ID(), true); err != nil {
		t.Fatal(err)
	}
	_, err := old.Propose(ctxT(t, 300*time.Millisecond), []byte("set lost 1"))
	if !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrSteppedDown) && !errors.Is(err, ErrNotLeader) {
		t.Fatalf("minority leader's proposal: %v", err)
	}
	nl := c.leaderAmong(old.ID())
	if _, err := nl.Propose(ctxT(t, 5*time.Second), []byte("set b 2")); err != nil {
		t.Fatalf("propose on new leader: %v", err)
	}
	if err := c.hub.Isolate(old.ID(), false); err != nil {
		t.Fatal(err)
	}
	// Crash the new leader and restart it from its storage.
	id := nl.ID()
	c.stop(id)
	res := c.propose("set c 3")
	c.start(id, nil)
	c.converge(res.Index)
	c.sameState()
	if got := c.fsms[id].get("c"); got != "3" {
		t.Fatalf("restarted node has c=%q", got)
	}
}

// leaderAmong waits for a leader other than skip, elected by the others.
func (c *cluster) leaderAmong(skip uint64) *Node {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for id, n := range c.nodes {
			if id != skip && n.IsLeader() {
				return n
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatal("no new leader")
	return nil
}

func TestSnapshotRestoreThroughGo(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) {
		cfg.SnapshotEntries = 20
		cfg.SnapshotTrailing = 5
	})
	var last Result
	for i := 0; i < 100; i++ {
		last = c.propose(fmt.Sprintf("set %s %d", key(i), i))
	}
	c.converge(last.Index)
	l := c.leader()
	if f := c.fsms[l.ID()]; f.snaps == 0 {
		t.Fatalf("no automatic snapshot taken")
	}
	// An explicit snapshot.
	c.propose("set x y")
	if res, err := l.Snapshot(ctxT(t, 5*time.Second)); err != nil || res.Index == 0 {
		t.Fatalf("Snapshot: %+v %v", res, err)
	}
	// A new server gets the state through a snapshot (its log was
	// compacted away) and restores it through Go.
	c.stores[4] = NewMemStorage()
	c.start(4, nil)
	if _, err := l.AddPeer(ctxT(t, 10*time.Second), 4); err != nil {
		t.Fatalf("AddPeer: %v", err)
	}
	res := c.propose("set after snap")
	c.converge(res.Index)
	c.sameState()
	if c.fsms[4].restores == 0 {
		t.Fatalf("node 4 did not restore a snapshot")
	}
	// A restart restores the stored snapshot before replaying the log.
	c.stop(2)
	c.fsms[2] = newKV()
	c.start(2, nil)
	c.converge(res.Index)
	c.sameState()
	if c.fsms[2].restores == 0 {
		t.Fatalf("restarted node 2 did not restore its snapshot")
	}
}

func TestMembership(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	ctx := ctxT(t, 20*time.Second)
	c.start(4, nil)
	if _, err := l.AddPeer(ctx, 4); err != nil {
		t.Fatalf("AddPeer: %v", err)
	}
	if _, err := l.AddPeer(ctx, 4); !errors.Is(err, ErrExist) {
		t.Fatalf("AddPeer twice: %v", err)
	}
	c.start(5, nil)
	if _, err := l.AddLearner(ctx, 5); err != nil {
		t.Fatalf("AddLearner: %v", err)
	}
	st, _ := l.Status()
	if len(st.Members) != 5 {
		t.Fatalf("members %+v", st.Members)
	}
	for _, m := range st.Members {
		if m.ID == 5 && m.Voter {
			t.Fatalf("learner is a voter")
		}
	}
	if _, err := l.PromoteLearner(ctx, 5); err != nil {
		t.Fatalf("PromoteLearner: %v", err)
	}
	if _, err := l.RemovePeer(ctx, 2); err != nil {
		t.Fatalf("RemovePeer: %v", err)
	}
	if _, err := l.RemovePeer(ctx, 99); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("RemovePeer unknown: %v", err)
	}
	c.stop(2)
	// Hand leadership to 4.
	if err := l.TransferLeadership(ctx, 4); err != nil {
		t.Fatalf("TransferLeadership: %v", err)
	}
	if got := c.leader(); got.ID() != 4 {
		t.Fatalf("leader %d after transfer to 4", got.ID())
	}
	if err := c.nodes[1].TransferLeadership(ctx, 3); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("transfer from a follower: %v", err)
	}
	res := c.propose("set m 1")
	c.converge(res.Index)
	c.sameState()
}

func TestShutdownUnderLoad(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	stop := make(chan struct{})
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_, err := l.Propose(context.Background(), []byte(fmt.Sprintf("set g%d %d", g, i)))
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrShutdown), errors.Is(err, ErrNotLeader),
					errors.Is(err, ErrSteppedDown), errors.Is(err, ErrTimeout), errors.Is(err, ErrBusy):
					failed.Add(1)
					if errors.Is(err, ErrShutdown) {
						return
					}
					time.Sleep(time.Millisecond)
				default:
					t.Errorf("propose: %v", err)
					return
				}
			}
		}(g)
	}
	time.Sleep(300 * time.Millisecond)
	// Close every node while proposals are in flight: each call returns.
	for _, id := range c.ids {
		go func(n *Node) { n.Close() }(c.nodes[id])
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("proposers did not return after Close")
	}
	close(stop)
	for _, id := range c.ids {
		if err := c.nodes[id].Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
	t.Logf("%d proposals committed, %d failed", ok.Load(), failed.Load())
	if ok.Load() == 0 {
		t.Fatal("no proposal committed before Close")
	}
	if _, err := c.nodes[1].Propose(context.Background(), nil); !errors.Is(err, ErrShutdown) {
		t.Fatalf("propose after Close: %v", err)
	}
	if err := c.nodes[1].Read(context.Background(), func() error { return nil }); !errors.Is(err, ErrShutdown) {
		t.Fatalf("read after Close: %v", err)
	}
	if _, err := c.nodes[1].Status(); !errors.Is(err, ErrShutdown) {
		t.Fatalf("status after Close: %v", err)
	}
	if c.nodes[1].Leader() != 0 || c.nodes[1].Role() != 0 {
		t.Fatal("cheap reads after Close")
	}
}

func TestMemberAddresses(t *testing.T) {
	addrs := map[uint64]string{1: "10.0.0.1:7001", 2: "10.0.0.2:7001", 3: "[::1]:7003"}
	c := newCluster(t, 3, func(cfg *Config) { cfg.Addrs = addrs })
	l := c.leader()
	st, err := l.Status()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st.Members {
		if m.Addr != addrs[m.ID] {
			t.Fatalf("member %d address %q, want %q", m.ID, m.Addr, addrs[m.ID])
		}
	}
	v0 := l.MembershipVersion()
	ctx := ctxT(t, 10*time.Second)
	c.start(4, nil)
	if _, err := l.AddPeerAt(ctx, 4, "10.0.0.4:7001"); err != nil {
		t.Fatal(err)
	}
	c.start(5, nil)
	if _, err := l.AddLearnerAt(ctx, 5, "10.0.0.5:7001"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AddPeerAt(ctx, 6, string(make([]byte, 300))); !errors.Is(err, ErrTooBig) {
		t.Fatalf("address too long: %v", err)
	}
	// Every server sees the addresses, without waiting for its driver.
	deadline := time.Now().Add(10 * time.Second)
	for _, n := range c.nodes {
		for {
			ms, v, err := n.Membership()
			if err != nil {
				t.Fatal(err)
			}
			got := map[uint64]string{}
			for _, m := range ms {
				got[m.ID] = m.Addr
			}
			if len(ms) == 5 && got[4] == "10.0.0.4:7001" && got[5] == "10.0.0.5:7001" && got[1] == addrs[1] && v > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d membership %+v (version %d)", n.ID(), ms, v)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if l.MembershipVersion() <= v0 {
		t.Fatalf("membership version %d did not grow from %d", l.MembershipVersion(), v0)
	}
}

// deadlineOnly is a context with a deadline and no Done channel: nothing
// but the deadline can end a call made with it.
type deadlineOnly struct {
	context.Context
	d time.Time
}

func (c deadlineOnly) Deadline() (time.Time, bool) { return c.d, true }

// TestProposeOnCallersThread: a Propose whose context is never done
// blocks in craft_node_propose_wait on the caller's thread; its results
// and errors are those of the asynchronous path.
func TestProposeOnCallersThread(t *testing.T) {
	bad := errors.New("bad entry")
	c := newCluster(t, 3, func(cfg *Config) { cfg.DisableCheckQuorum = true })
	for _, f := range c.fsms {
		f.failApply = func(s string) error {
			if s == "fail" {
				return bad
			}
			return nil
		}
		f.panicApply = "boom"
	}
	l := c.leader()
	bg := context.Background()

	// Results: index, term and what Apply returned (the previous value),
	// copied into Go memory.
	var last uint64
	for i := 0; i < 20; i++ {
		res, err := l.Propose(bg, []byte(fmt.Sprintf("set x %d", i)))
		if err != nil {
			t.Fatalf("propose %d: %v", i, err)
		}
		if res.Index <= last || res.Term == 0 {
			t.Fatalf("receipt %+v after index %d", res, last)
		}
		last = res.Index
		want := ""
		if i > 0 {
			want = fmt.Sprint(i - 1)
		}
		if string(res.Data) != want {
			t.Fatalf("apply result %q, want %q", res.Data, want)
		}
	}
	if res, err := l.Propose(bg, nil); err != nil || res.Index <= last || res.Data != nil {
		t.Fatalf("empty proposal: %+v %v", res, err)
	}

	// Many goroutines at once (beyond GOMAXPROCS of them the calls wait
	// in Go): every proposal commits once.
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[uint64]bool{}
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				res, err := l.Propose(bg, []byte(fmt.Sprintf("set g%d %d", g, i)))
				if err != nil {
					t.Errorf("concurrent propose: %v", err)
					return
				}
				mu.Lock()
				if seen[res.Index] {
					t.Errorf("index %d given twice", res.Index)
				}
				seen[res.Index] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	// Apply's error and panic come back wrapped, as on the async path.
	_, err := l.Propose(bg, []byte("fail"))
	if !errors.Is(err, ErrCallback) || !errors.Is(err, bad) {
		t.Fatalf("Apply error: %v", err)
	}
	_, err = l.Propose(bg, []byte("boom"))
	var pe *PanicError
	if !errors.Is(err, ErrCallback) || !errors.As(err, &pe) || pe.Callback != "Apply" {
		t.Fatalf("Apply panic: %v", err)
	}

	// On a follower: ErrNotLeader with the leader to retry on.
	for id, n := range c.nodes {
		if id == l.ID() {
			continue
		}
		_, err := n.Propose(bg, []byte("set a b"))
		var nl *NotLeaderError
		if !errors.As(err, &nl) || !errors.Is(err, ErrNotLeader) || nl.Leader != l.ID() {
			t.Fatalf("propose on follower %d: %v", id, err)
		}
	}

	// From one of the node's own callbacks the blocking call is refused
	// (it would wait for itself), where the async path would hang.
	var inner error
	if err := l.Read(ctxT(t, 10*time.Second), func() error { _, inner = l.Propose(bg, []byte("set r 1")); return nil }); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(inner, ErrState) {
		t.Fatalf("Propose from a Read function: %v", inner)
	}

	// A deadline without a Done channel is craft's deadline: ErrTimeout.
	_, err = l.Propose(deadlineOnly{bg, time.Now().Add(-time.Second)}, []byte("set y 1"))
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired deadline: %v", err)
	}
	if err := c.hub.Isolate(l.ID(), true); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = l.Propose(deadlineOnly{bg, time.Now().Add(200 * time.Millisecond)}, []byte("set y 2"))
	if el := time.Since(start); !errors.Is(err, ErrTimeout) || el < 150*time.Millisecond || el > 4*time.Second {
		t.Fatalf("isolated leader, 200ms deadline: %v after %v", err, el)
	}

	// Close completes the proposals blocked in C with ErrShutdown, and
	// later ones fail with it at once.
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			_, err := l.Propose(bg, []byte("set z 1"))
			errs <- err
		}()
	}
	time.Sleep(100 * time.Millisecond)
	start = time.Now()
	c.stop(l.ID())
	for g := 0; g < 4; g++ {
		if err := <-errs; !errors.Is(err, ErrShutdown) {
			t.Fatalf("propose blocked at Close: %v", err)
		}
	}
	if el := time.Since(start); el > 4*time.Second {
		t.Fatalf("Close and the blocked proposals took %v", el)
	}
	if _, err := l.Propose(bg, []byte("set z 2")); !errors.Is(err, ErrShutdown) {
		t.Fatalf("propose after Close: %v", err)
	}
}
