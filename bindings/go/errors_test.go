package craft

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestErrnoMapping(t *testing.T) {
	all := []Errno{ErrInvalid, ErrNoMemory, ErrStruct, ErrMalformed, ErrChecksum, ErrVersion,
		ErrTooBig, ErrNotLeader, ErrUnknownPeer, ErrShutdown, ErrBusy, ErrTimeout, ErrLost,
		ErrSteppedDown, ErrNotReady, ErrCallback, ErrState, ErrIO, ErrCorrupt, ErrExist,
		ErrNotFound, ErrCanceled}
	seen := map[string]bool{}
	for i, e := range all {
		if int(e) != -(i + 1) {
			t.Fatalf("%v has value %d, want %d", e, int(e), -(i + 1))
		}
		s := e.Error()
		if !strings.HasPrefix(s, "CRAFT_E") || seen[s] {
			t.Fatalf("Errno(%d).Error() = %q", int(e), s)
		}
		seen[s] = true
		err := error(&Error{Op: "x", Code: e})
		for _, other := range all {
			if errors.Is(err, other) != (other == e) {
				t.Fatalf("errors.Is(%v, %v) = %v", err, other, !(other == e))
			}
		}
	}
	cause := errors.New("cause")
	err := error(&Error{Op: "propose", Code: ErrCallback, Err: cause})
	if !errors.Is(err, ErrCallback) || !errors.Is(err, cause) || errors.Is(err, ErrBusy) {
		t.Fatalf("wrapped cause: %v", err)
	}
	var nl *NotLeaderError
	err = callError("propose", int(ErrNotLeader), 7, nil)
	if !errors.As(err, &nl) || nl.Leader != 7 || !errors.Is(err, ErrNotLeader) {
		t.Fatalf("not leader: %v", err)
	}
	err = ctxError("read", context.DeadlineExceeded)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
	err = ctxError("read", context.Canceled)
	if !errors.Is(err, ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
	if errorCode(ErrBusy) != -11 || errorCode(errors.New("x")) != -16 || errorCode(nil) != 0 {
		t.Fatal("errorCode")
	}
	if Version() == "" || CheckVersion() != nil {
		t.Fatalf("version %q %v", Version(), CheckVersion())
	}
	if ma, mi, pa := VersionNumbers(); ma+mi+pa == 0 {
		t.Fatal("version numbers")
	}
}

func TestNewNodeErrors(t *testing.T) {
	hub := NewHub()
	defer hub.Close()
	ms := NewMemStorage()
	defer ms.Close()
	if _, err := NewNode(Config{ID: 0, Storage: ms, Transport: hub, FSM: newKV()}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ID 0: %v", err)
	}
	if _, err := NewNode(Config{ID: 1, Storage: ms, Transport: hub}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no FSM: %v", err)
	}
	if _, err := NewNode(Config{ID: 1, Storage: ms, Transport: hub, FSM: newKV(), Bootstrap: []uint64{2, 3}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bootstrap without self: %v", err)
	}
	if _, err := NewNode(Config{ID: 1, Storage: ms, Transport: hub, FSM: newKV(), TickInterval: -1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative tick: %v", err)
	}
	n, err := NewNode(Config{ID: 1, Storage: ms, Transport: hub, FSM: newKV(), Bootstrap: []uint64{1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewNode(Config{ID: 2, Storage: ms, Transport: hub, FSM: newKV()}); !errors.Is(err, ErrBusy) {
		t.Fatalf("storage shared by two nodes: %v", err)
	}
	if err := ms.Close(); !errors.Is(err, ErrBusy) {
		t.Fatalf("closing a storage in use: %v", err)
	}
	if err := hub.Close(); !errors.Is(err, ErrBusy) {
		t.Fatalf("closing a hub in use: %v", err)
	}
	if _, err := n.Propose(ctxT(t, 5*time.Second), make([]byte, 65<<20)); !errors.Is(err, ErrTooBig) {
		t.Fatalf("oversized proposal: %v", err)
	}
	if err := n.Read(context.Background(), nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("nil read: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestContextCancellation(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := l.Propose(ctx, []byte("set a 1"))
	if !errors.Is(err, ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled before: %v", err)
	}
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	if err := l.Read(expired, func() error { return nil }); !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired deadline: %v", err)
	}
	// A leader cut off from its followers cannot commit: the call returns
	// by the context's deadline, with both errors.
	if err := c.hub.Isolate(l.ID(), true); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = l.Propose(ctxT(t, 200*time.Millisecond), []byte("set b 2"))
	if !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrSteppedDown) && !errors.Is(err, ErrNotLeader) {
		t.Fatalf("isolated leader: %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("deadline of 200ms honoured after %v", el)
	}
	// Cancellation while waiting: the call returns at once, and a Read's
	// function never runs once Read returned.
	ctx3, cancel3 := context.WithCancel(context.Background())
	var ran sync.WaitGroup
	ranAfter := make(chan struct{}, 1)
	returned := make(chan struct{})
	ran.Add(1)
	go func() {
		defer ran.Done()
		err := c.nodes[l.ID()].Read(ctx3, func() error {
			select {
			case <-returned:
				ranAfter <- struct{}{}
			default:
			}
			return nil
		})
		close(returned)
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, ErrSteppedDown) &&
			!errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrTimeout) {
			t.Errorf("read: %v", err)
		}
	}()
	time.Sleep(20 * time.Millisecond)
	cancel3()
	ran.Wait()
	if err := c.hub.Isolate(l.ID(), false); err != nil {
		t.Fatal(err)
	}
	c.propose("set c 3")
	select {
	case <-ranAfter:
		t.Fatal("Read's function ran after Read returned")
	default:
	}
}

func TestCallbackErrorsAndPanics(t *testing.T) {
	bad := errors.New("bad entry")
	c := newCluster(t, 3, func(cfg *Config) { cfg.SnapshotEntries = 1 << 30 })
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
	ctx := ctxT(t, 10*time.Second)
	_, err := l.Propose(ctx, []byte("fail"))
	if !errors.Is(err, ErrCallback) || !errors.Is(err, bad) {
		t.Fatalf("Apply error: %v", err)
	}
	_, err = l.Propose(ctx, []byte("boom"))
	var pe *PanicError
	if !errors.Is(err, ErrCallback) || !errors.As(err, &pe) || pe.Callback != "Apply" || len(pe.Stack) == 0 {
		t.Fatalf("Apply panic: %v", err)
	}
	// Read functions: an error and a panic.
	rerr := errors.New("read failed")
	if err := l.Read(ctx, func() error { return rerr }); !errors.Is(err, ErrCallback) || !errors.Is(err, rerr) {
		t.Fatalf("read error: %v", err)
	}
	err = l.Read(ctx, func() error { panic(rerr) })
	if !errors.As(err, &pe) || pe.Callback != "Read" || !errors.Is(err, rerr) {
		t.Fatalf("read panic: %v", err)
	}
	// A panicking Snapshot fails the snapshot, not the node.
	c.fsms[l.ID()].mu.Lock()
	c.fsms[l.ID()].panicSnap = true
	c.fsms[l.ID()].mu.Unlock()
	c.propose("set s 1")
	if _, err := l.Snapshot(ctx); !errors.Is(err, ErrCallback) {
		t.Fatalf("snapshot panic: %v", err)
	}
	// The node keeps working.
	res := c.propose("set k v")
	c.converge(res.Index)
	c.sameState()
	// Blocking calls from a callback are refused, not deadlocked.
	var inner error
	if err := l.Read(ctx, func() error { _, inner = l.Status(); return nil }); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(inner, ErrState) {
		t.Fatalf("Status from a callback: %v", inner)
	}
	if err := l.Read(ctx, func() error { inner = l.Close(); return nil }); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(inner, ErrState) {
		t.Fatalf("Close from a callback: %v", inner)
	}
}

func TestStorageFailureStopsNode(t *testing.T) {
	c := newCluster(t, 3, nil)
	l := c.leader()
	c.propose("set a 1")
	if err := c.stores[l.ID()].Fail(ErrIO); err != nil {
		t.Fatal(err)
	}
	_, err := l.Propose(ctxT(t, 5*time.Second), []byte("set b 2"))
	if !errors.Is(err, ErrIO) {
		t.Fatalf("propose on failed storage: %v", err)
	}
	_, err = l.Propose(ctxT(t, 5*time.Second), []byte("set c 3"))
	var e *Error
	if !errors.Is(err, ErrIO) || !errors.As(err, &e) {
		t.Fatalf("propose after fail-stop: %v", err)
	}
	if st := c.stores[l.ID()].State(); st.LastIndex == 0 || st.Term == 0 || st.Syncs == 0 {
		t.Fatalf("storage state %+v", st)
	}
	c.stores[l.ID()].Fail(0)
}

// recorder is a slog.Handler keeping every record.
type recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.recs = append(r.recs, rec.Clone())
	r.mu.Unlock()
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) find(msg string) (slog.Record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.recs {
		if rec.Message == msg {
			return rec, true
		}
	}
	return slog.Record{}, false
}

func TestTraceThroughSlog(t *testing.T) {
	rec := &recorder{}
	c := newCluster(t, 3, func(cfg *Config) { cfg.Logger = slog.New(rec) })
	c.propose("set a 1")
	r, ok := rec.find("leader.elected")
	if !ok {
		t.Fatal("no leader.elected record")
	}
	attrs := map[string]slog.Value{}
	r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value; return true })
	if attrs["target"].String() != "craft.engine" || attrs["node_id"].Uint64() == 0 || attrs["term"].Uint64() == 0 {
		t.Fatalf("leader.elected attrs %v", attrs)
	}
	if r.Level != slog.LevelInfo {
		t.Fatalf("level %v", r.Level)
	}
	if _, ok := rec.find("commit.advanced"); !ok {
		t.Fatal("debug events missing with a debug logger")
	}
	names := map[string]string{}
	for _, ev := range TraceEvents() {
		names[ev.Name] = ev.Target
	}
	if names["leader.elected"] != "craft.engine" || names["node.started"] != "craft.node" || len(names) < 18 {
		t.Fatalf("trace events %v", names)
	}
	// An Info logger gets no debug events.
	info := &levelRecorder{min: slog.LevelInfo}
	if traceLevel(slog.New(info)) != 3 || traceLevel(nil) != 0 {
		t.Fatal("trace level mapping")
	}
}

type levelRecorder struct {
	recorder
	min slog.Level
}

func (r *levelRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.min }

// TestNoLeakAfterClose: every goroutine and every cgo.Handle the binding
// took is gone once the nodes are closed.
func TestNoLeakAfterClose(t *testing.T) {
	settle := func() int {
		runtime.GC()
		time.Sleep(50 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	before := settle()
	handles := liveHandles.Load()
	func() {
		c := newCluster(t, 3, func(cfg *Config) { cfg.Logger = slog.New(&recorder{}) })
		l := c.leader()
		var wg sync.WaitGroup
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					l.Propose(context.Background(), []byte("set a b"))
					l.Read(context.Background(), func() error { return nil })
				}
			}()
		}
		// Calls abandoned by their context still release their handle.
		for i := 0; i < 50; i++ {
			ctx, cancel := context.WithCancel(context.Background())
			go cancel()
			l.Propose(ctx, []byte("set c d"))
		}
		wg.Wait()
		c.close()
		c.nodes = map[uint64]*Node{}
		c.stores = map[uint64]*MemStorage{}
		c.hub = NewHub()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		after := settle()
		h := liveHandles.Load()
		if after <= before && h == handles {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("leak: %d goroutines before, %d after; %d handles before, %d after\n%s",
				before, after, handles, h, buf[:runtime.Stack(buf, true)])
		}
	}
}
