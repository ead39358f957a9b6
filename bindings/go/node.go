package craft

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Config describes a node. ID, Storage, Transport and FSM are required;
// every other field has a default (the C library's) when left zero.
type Config struct {
	ID        uint64    // this server's id, non-zero
	Storage   Storage   // NewFileStorage(dir), NewMemStorage() or GoStorage(...)
	Transport Transport // a *Hub, a TCP transport or GoTransport(...)
	FSM       FSM       // the replicated state machine

	// Bootstrap founds a new cluster with these voters (which must include
	// ID) when the storage is empty. On a storage that holds state (a
	// restart) it is ignored. Leave it nil on a server that a leader will
	// add with AddPeer.
	Bootstrap []uint64
	// Addrs gives Bootstrap servers an address (opaque to craft, at most
	// 255 bytes, e.g. "10.0.0.5:7001"), stored in the membership so that
	// every server's transport can reach them. Optional.
	Addrs map[uint64]string

	// Logger receives the node's trace events (log/slog records whose
	// message is the stable event name, e.g. "leader.elected", with the
	// event's fields as attributes and "target" = "craft.engine" or
	// "craft.node"). nil: no tracing. Only levels the logger has enabled
	// at NewNode are produced.
	Logger *slog.Logger
	// TraceStderr prints the node's trace events on stderr instead, with
	// the C library's own printer: one line per event ("2026-12-05T19:02:
	// 48.123456Z INFO  craft.engine leader.elected node_id=1 term=2
	// leader=1"), no Go code on the path. Events at TraceStderrLevel and
	// above (the zero value: slog.LevelInfo) are printed. Not with Logger.
	TraceStderr      bool
	TraceStderrLevel slog.Level

	TickInterval   time.Duration // one engine tick; default 10ms
	ElectionTicks  int           // election timeout, random in [e, 2e) ticks; default 10
	HeartbeatTicks int           // leader heartbeat period; default 1
	// RequestTimeout bounds a call whose context has no deadline
	// (default 5s): craft needs a deadline for every call it queues.
	RequestTimeout time.Duration

	DisablePreVote     bool // pre-vote (Raft thesis §9.6) is on by default
	DisableCheckQuorum bool // check-quorum (thesis §6.2) is on by default
	LeaseReads         bool // serve reads from a leader lease (thesis §6.4.1)

	// DisableSnapshots: never take a snapshot (the log grows forever) and
	// never call FSM.Snapshot or FSM.Restore.
	DisableSnapshots bool
	SnapshotEntries  uint64 // snapshot after this many applied entries; default 8192
	SnapshotBytes    uint64 // ... or this many applied payload bytes; default 64 MiB
	SnapshotTrailing uint64 // entries kept after compaction; default 128

	ApplyQueueEntries int // backpressure bound of the apply queue; default 8192
	MaxPending        int // proposals accepted and not completed; default 65536

	// WaitLeader: a Propose or Read made while this node knows no leader
	// (an election is going on) waits for one, up to its deadline,
	// instead of failing at once with ErrNotLeader.
	WaitLeader bool
	// WaitRoom: a Propose made while MaxPending proposals are pending
	// waits for room, up to its deadline (then ErrTimeout), instead of
	// failing at once with ErrBusy. The wait happens inside the C call,
	// so it holds an OS thread and only the deadline, not a cancellation,
	// ends it.
	WaitRoom bool
	Seed     uint64
}

// Result is the outcome of a successful call: the log position of a
// committed proposal or configuration change (Index, Term) and, for a
// proposal, what FSM.Apply returned.
type Result struct {
	Index uint64
	Term  uint64
	Data  []byte
}

// Node is a running craft server. Its methods may be called from any
// goroutine. Propose, Read and the membership calls wait for the cluster
// and honour their context's deadline and cancellation.
type Node struct {
	id uint64

	mu     sync.RWMutex // read-held around C calls; write-held to free c
	c      *C.craft_node
	closed atomic.Bool

	closeMu  sync.Mutex
	closeErr error
	done     bool

	h          cgo.Handle // the node, for the FSM and trace trampolines
	fsm        FSM
	snapshots  bool
	logger     *slog.Logger
	defTimeout time.Duration

	fsmMu      sync.Mutex // held around every FSM callback and Read function
	scratch    unsafe.Pointer
	scratchCap C.size_t

	// Proposes with a never-done context in progress, and how many of
	// them may block in C (see Propose): GOMAXPROCS, as craft guests only while at most one call
	// per CPU is pending; beyond it OS threads parked in C cost more than
	// the thread hops they save (256 goroutines blocked in C ran at a
	// fifth of the async path's rate).
	proposing  atomic.Int32
	fewPropose int32

	applyErrMu sync.Mutex
	applyErrs  map[uint64]error // index -> error of a failed Apply

	storage   binding
	transport binding
}

// binding is what a Storage or Transport did to a node's config, undone
// at Close.
type binding struct {
	attach  func(n *C.craft_node) error // after create, before start
	detach  func()                      // after shutdown, before free
	release func()                      // after free
}

func (b *binding) undoAttach() {
	if b.detach != nil {
		b.detach()
		b.detach = nil
	}
}

func (b *binding) undo() {
	b.undoAttach()
	if b.release != nil {
		b.release()
		b.release = nil
	}
}

// NewNode creates a node, loads its persisted state from cfg.Storage,
// bootstraps a new cluster when cfg.Bootstrap is set and the storage is
// empty, and starts it.
func NewNode(cfg Config) (*Node, error) {
	if err := CheckVersion(); err != nil {
		return nil, err
	}
	if cfg.ID == 0 || cfg.Storage == nil || cfg.Transport == nil || cfg.FSM == nil {
		return nil, &Error{Op: "new node", Code: ErrInvalid, Detail: "ID, Storage, Transport and FSM are required"}
	}
	if cfg.TraceStderr && cfg.Logger != nil {
		return nil, &Error{Op: "new node", Code: ErrInvalid, Detail: "Logger and TraceStderr both set: a node has one trace"}
	}
	n := &Node{
		id:         cfg.ID,
		fsm:        cfg.FSM,
		snapshots:  !cfg.DisableSnapshots,
		logger:     cfg.Logger,
		defTimeout: cfg.RequestTimeout,
		applyErrs:  map[uint64]error{},
		fewPropose: int32(max(runtime.GOMAXPROCS(0), 1)),
	}
	c := C.gocraft_cfg_new()
	if c == nil {
		return nil, &Error{Op: "new node", Code: ErrNoMemory}
	}
	defer C.free(unsafe.Pointer(c))
	if err := n.fill(c, &cfg); err != nil {
		return nil, err
	}
	n.h = newHandle(n)
	C.gocraft_cfg_fsm(c, C.uintptr_t(n.h), boolInt(n.snapshots), C.int(traceLevel(cfg.Logger)))
	if cfg.TraceStderr {
		C.gocraft_cfg_trace_stderr(c, C.int(cTraceLevel(cfg.TraceStderrLevel)))
	}

	var err error
	if n.storage, err = cfg.Storage.bindStorage(c); err != nil {
		n.undoNew()
		return nil, err
	}
	if n.transport, err = cfg.Transport.bindTransport(c, cfg.ID); err != nil {
		n.undoNew()
		return nil, err
	}
	// The C library's one-line message names the option or the step at
	// fault; C memory, so that C keeps no Go pointer.
	msg := (*C.char)(C.calloc(1, createMsgBytes))
	if msg == nil {
		n.undoNew()
		return nil, &Error{Op: "new node", Code: ErrNoMemory}
	}
	defer C.free(unsafe.Pointer(msg))
	if rc := C.gocraft_node_create(c, &n.c, msg, createMsgBytes); rc != 0 {
		n.undoNew()
		detail := C.GoString(msg)
		if detail == "" {
			detail = createDetail(rc)
		}
		return nil, &Error{Op: "new node", Code: Errno(rc), Detail: detail}
	}
	if len(cfg.Bootstrap) > 0 {
		rc := n.bootstrap(cfg.Bootstrap, cfg.Addrs)
		// CRAFT_ESTATE: the storage holds state, this is a restart.
		if rc != 0 && rc != C.CRAFT_ESTATE {
			err := n.errorOf("bootstrap", rc)
			n.undoNew()
			return nil, err
		}
	}
	if n.transport.attach != nil {
		if err := n.transport.attach(n.c); err != nil {
			n.undoNew()
			return nil, err
		}
	}
	if rc := C.craft_node_start(n.c); rc != 0 {
		err := n.errorOf("start", rc)
		n.undoNew()
		return nil, err
	}
	return n, nil
}

func (n *Node) bootstrap(ids []uint64, addrs map[uint64]string) C.int {
	idp := (*C.uint64_t)(unsafe.Pointer(&ids[0]))
	if len(addrs) == 0 {
		return C.craft_node_bootstrap(n.c, idp, C.size_t(len(ids)))
	}
	var packed []byte
	lens := make([]C.size_t, len(ids))
	for k, id := range ids {
		packed = append(packed, addrs[id]...)
		lens[k] = C.size_t(len(addrs[id]))
	}
	return C.gocraft_bootstrap_addr(n.c, idp, (*C.char)(bytesPtr(packed)), &lens[0], C.size_t(len(ids)))
}

func (n *Node) fill(c *C.gocraft_cfg, cfg *Config) error {
	o, e := &c.node, &c.engine
	o.id = C.uint64_t(cfg.ID)
	e.id = C.uint64_t(cfg.ID)
	if cfg.TickInterval < 0 || cfg.RequestTimeout < 0 || cfg.ElectionTicks < 0 ||
		cfg.HeartbeatTicks < 0 || cfg.ApplyQueueEntries < 0 || cfg.MaxPending < 0 {
		return &Error{Op: "new node", Code: ErrInvalid, Detail: "negative duration or count"}
	}
	if cfg.TickInterval > 0 {
		o.tick_ms = C.uint32_t(clampMS(cfg.TickInterval))
	}
	if cfg.RequestTimeout > 0 {
		o.request_timeout_ms = C.uint32_t(clampMS(cfg.RequestTimeout))
	}
	n.defTimeout = time.Duration(o.request_timeout_ms) * time.Millisecond
	if cfg.ElectionTicks > 0 {
		e.election_ticks = C.uint32_t(min(cfg.ElectionTicks, math.MaxInt32))
	}
	if cfg.HeartbeatTicks > 0 {
		e.heartbeat_ticks = C.uint32_t(min(cfg.HeartbeatTicks, math.MaxInt32))
	}
	if cfg.DisablePreVote {
		e.pre_vote = 0
	}
	if cfg.DisableCheckQuorum {
		e.check_quorum = 0
	}
	if cfg.LeaseReads {
		e.lease_reads = 1
	}
	if cfg.SnapshotEntries > 0 {
		e.snapshot_entries = C.uint64_t(cfg.SnapshotEntries)
	}
	if cfg.SnapshotBytes > 0 {
		e.snapshot_bytes = C.uint64_t(cfg.SnapshotBytes)
	}
	if cfg.SnapshotTrailing > 0 {
		e.snapshot_trailing = C.uint64_t(cfg.SnapshotTrailing)
	}
	e.seed = C.uint64_t(cfg.Seed)
	if cfg.ApplyQueueEntries > 0 {
		o.apply_queue_entries = C.uint32_t(min(cfg.ApplyQueueEntries, math.MaxUint32))
	}
	if cfg.MaxPending > 0 {
		o.max_pending = C.uint32_t(min(cfg.MaxPending, math.MaxUint32))
	}
	if cfg.WaitLeader {
		o.wait_leader = 1
	}
	if cfg.WaitRoom {
		o.wait_room = 1
	}
	return nil
}

// undoNew releases what a failed NewNode took.
func (n *Node) undoNew() {
	if n.c != nil {
		C.craft_node_shutdown(n.c)
		n.transport.undoAttach()
		C.craft_node_free(n.c)
		n.c = nil
	}
	n.transport.undo()
	n.storage.undo()
	if n.h != 0 {
		deleteHandle(n.h)
		n.h = 0
	}
	n.freeScratch()
}

func (n *Node) freeScratch() {
	if n.scratch != nil {
		C.free(n.scratch)
		n.scratch = nil
		n.scratchCap = 0
	}
}

// Close shuts the node down: calls still pending complete with ErrShutdown
// (entries already committed are applied first), craft's threads stop,
// and every resource is released; the storage stays, for a restart. A
// second Close returns the first one's result. Close from inside an FSM,
// Read or trace callback of the same node returns ErrState.
func (n *Node) Close() error {
	n.closeMu.Lock()
	defer n.closeMu.Unlock()
	if n.done {
		return n.closeErr
	}
	if rc := C.craft_node_shutdown(n.c); rc != 0 {
		// CRAFT_ESTATE: called from one of the node's own callbacks.
		return &Error{Op: "close", Code: Errno(rc)}
	}
	n.closed.Store(true)
	n.mu.Lock() // waits for C calls in progress on other goroutines
	n.transport.undoAttach()
	C.craft_node_free(n.c)
	n.c = nil
	n.mu.Unlock()
	n.transport.undo()
	n.storage.undo()
	deleteHandle(n.h)
	n.h = 0
	n.fsmMu.Lock()
	n.freeScratch()
	n.fsmMu.Unlock()
	n.done = true
	return nil
}

// enter read-locks the node for a C call; false after Close.
func (n *Node) enter() bool {
	n.mu.RLock()
	if n.c == nil {
		n.mu.RUnlock()
		return false
	}
	return true
}

func (n *Node) leave() { n.mu.RUnlock() }

// errorOf is the error of a failed synchronous C call on the node, with
// the node's detailed message.
func (n *Node) errorOf(op string, rc C.int) error {
	e := &Error{Op: op, Code: Errno(rc)}
	if n.c != nil && (Errno(rc) == ErrIO || Errno(rc) == ErrCallback || Errno(rc) == ErrCorrupt) {
		var buf [512]C.char
		C.craft_node_errmsg(n.c, &buf[0], C.size_t(len(buf)))
		e.Detail = C.GoString(&buf[0])
	}
	return e
}

// ID returns the server id of the node.
func (n *Node) ID() uint64 { return n.id }

// ---- asynchronous calls ---------------------------------------------

// waiter is one call waiting for its completion; its id in the table of
// calls (calls.go) is the completion's context in C, and the completion,
// which craft runs exactly once for every accepted call, hands it back.
type waiter struct {
	id    uintptr // its slot in calls, for life; never 0
	node  *Node
	read  func() error // Read only: run on the apply thread
	state atomic.Int32 // waiterWaiting, waiterRunning, waiterAbandoned
	ch    chan callResult
}

const (
	waiterWaiting = iota
	waiterRunning
	waiterAbandoned
)

type callResult struct {
	status int
	index  uint64
	term   uint64
	leader uint64
	data   []byte
	cause  error // the user callback's error
}

// timeoutMS is the deadline to give craft: what is left of the context's,
// or the node's default.
func (n *Node) timeoutMS(ctx context.Context) (C.uint32_t, bool) {
	d, ok := ctx.Deadline()
	if !ok {
		return 0, true // the node's RequestTimeout
	}
	left := time.Until(d)
	if left <= 0 {
		return 0, false
	}
	return C.uint32_t(clampMS(left)), true
}

func clampMS(d time.Duration) int64 {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms < 1 {
		ms = 1
	}
	if ms > math.MaxUint32-1 {
		ms = math.MaxUint32 - 1
	}
	return int64(ms)
}

// call starts an asynchronous C call (start returns its code) and waits
// for its completion or the context.
func (n *Node) call(ctx context.Context, op string, read func() error,
	start func(c *C.craft_node, timeout C.uint32_t, h C.uintptr_t) C.int) (callResult, error) {
	if err := ctx.Err(); err != nil {
		return callResult{}, ctxError(op, err)
	}
	timeout, ok := n.timeoutMS(ctx)
	if !ok {
		return callResult{}, ctxError(op, context.DeadlineExceeded)
	}
	w := calls.acquire()
	if w == nil {
		return callResult{}, &Error{Op: op, Code: ErrBusy, Detail: "too many calls in flight"}
	}
	w.node, w.read = n, read
	// Written last: the completion loads it first (the release/acquire
	// pair that publishes node and read to craft's apply thread).
	w.state.Store(waiterWaiting)
	if !n.enter() {
		calls.release(w)
		return callResult{}, &Error{Op: op, Code: ErrShutdown}
	}
	rc := start(n.c, timeout, C.uintptr_t(w.id))
	if rc != 0 {
		err := n.errorOf(op, rc)
		n.leave()
		calls.release(w)
		return callResult{}, err
	}
	n.leave()
	done := ctx.Done()
	if done == nil {
		return w.take(op) // never done: a plain receive, cheaper than a select
	}
	select {
	case r := <-w.ch:
		return w.finish(op, r)
	case <-done:
		if !w.state.CompareAndSwap(waiterWaiting, waiterAbandoned) {
			// The completion is running (a Read's function may be
			// running on the apply thread: a Read never returns while it
			// may still run) or has run: take its result.
			return w.take(op)
		}
		// The completion still comes, and releases the waiter.
		return callResult{}, ctxError(op, ctx.Err())
	}
}

// take waits for the completion's result and ends the call.
func (w *waiter) take(op string) (callResult, error) { return w.finish(op, <-w.ch) }

// finish ends the call with its completion's result r: the waiter goes
// back to the table.
func (w *waiter) finish(op string, r callResult) (callResult, error) {
	calls.release(w)
	return r, callError(op, r.status, r.leader, r.cause)
}

//export goCraftDone
func goCraftDone(h C.uintptr_t, status C.int, index, term, leader C.uint64_t, data unsafe.Pointer, n C.size_t) {
	w := calls.lookup(uintptr(h))
	// The caller's Store of waiterWaiting published node and read; this
	// CAS (or the caller's, when its context is done first) decides who
	// owns the waiter now.
	if !w.state.CompareAndSwap(waiterWaiting, waiterRunning) {
		// Abandoned: nobody waits for the result.
		if status == C.CRAFT_ECALLBACK && w.read == nil {
			w.node.takeApplyErr(uint64(index))
		}
		calls.release(w)
		return
	}
	node, read := w.node, w.read
	r := callResult{status: int(status), index: uint64(index), term: uint64(term), leader: uint64(leader)}
	if n > 0 {
		r.data = C.GoBytes(data, C.int(n))
	}
	switch {
	case status == C.CRAFT_ECALLBACK && read == nil:
		r.cause = node.takeApplyErr(r.index)
	case status == 0 && read != nil:
		if err := node.runRead(read); err != nil {
			r.status = C.CRAFT_ECALLBACK
			r.cause = err
		}
	}
	w.ch <- r
}

// Propose replicates data as one log entry and waits until it is
// committed and applied here; the Result holds the entry's position and
// what FSM.Apply returned. Errors: *NotLeaderError (ErrNotLeader, with
// the leader to retry on), ErrTimeout (the context's deadline, or the
// node's RequestTimeout without one: the outcome is unknown), ErrCanceled
// (the context was canceled: the entry may still commit), ErrCallback
// (committed, but Apply failed: the wrapped error is Apply's), ErrBusy,
// ErrSteppedDown, ErrLost, ErrTooBig, ErrShutdown, ErrIO.
//
// With a context that can never be done (ctx.Done() returns nil, as for
// context.Background() and context.TODO()), while at most GOMAXPROCS
// such Proposes of the node are in progress, Propose blocks in C, in
// craft_node_propose_wait, on the calling goroutine's OS thread: while
// the node has few clients craft runs the leader's round on that thread
// itself ("guest rounds", craft_node_options.inline_rounds) instead of
// waking its driver thread and waiting for its apply thread and a
// completion trampoline (a single proposing goroutine goes several times
// faster). The node's storage, transport and trace callbacks (never the
// FSM) may then run on the caller's thread, so the caller must hold no
// lock they take; such a Propose made from one of the node's own
// callbacks returns ErrState (it would wait for itself). With more of
// them in progress, and with a context that can be canceled or has a
// deadline, the call waits in Go, so that canceling the context ends the
// wait at once and a goroutine, not an OS thread, waits.
func (n *Node) Propose(ctx context.Context, data []byte) (Result, error) {
	if ctx.Done() == nil {
		k := n.proposing.Add(1)
		defer n.proposing.Add(-1)
		if k <= n.fewPropose {
			return n.proposeWait(ctx, data)
		}
	}
	r, err := n.call(ctx, "propose", nil, func(c *C.craft_node, timeout C.uint32_t, h C.uintptr_t) C.int {
		return C.gocraft_propose(c, bytesPtr(data), C.size_t(len(data)), timeout, h)
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Index: r.index, Term: r.term, Data: r.data}, nil
}

// proposeWait is Propose on the calling thread, for a context that is
// never done: nothing can end the wait early, so the blocking C call
// loses nothing and lets craft run the round on this thread. The node
// stays read-locked for the whole call: Close (which completes the call
// with ErrShutdown first) frees the node only once it returned. Errors
// map as in call.
func (n *Node) proposeWait(ctx context.Context, data []byte) (Result, error) {
	const op = "propose"
	timeout, ok := n.timeoutMS(ctx) // a deadline without a Done channel is possible
	if !ok {
		return Result{}, ctxError(op, context.DeadlineExceeded)
	}
	if !n.enter() {
		return Result{}, &Error{Op: op, Code: ErrShutdown}
	}
	var out C.gocraft_wait_out
	rc := C.gocraft_propose_wait(n.c, bytesPtr(data), C.size_t(len(data)), timeout, &out)
	if out.had_result == 0 {
		// The call itself failed (as a failed start in call), or craft
		// had no memory for the result of a completed proposal.
		var err error
		if rc != 0 {
			err = n.errorOf(op, rc)
		} else {
			err = &Error{Op: op, Code: ErrNoMemory, Detail: "the proposal completed, but its result could not be allocated"}
		}
		n.leave()
		return Result{}, err
	}
	n.leave()
	r := Result{Index: uint64(out.index), Term: uint64(out.term)}
	if out.res != nil {
		r.Data = C.GoBytes(out.data, C.int(out.len))
		C.craft_result_free(out.res)
	}
	var cause error
	if rc == C.CRAFT_ECALLBACK {
		cause = n.takeApplyErr(r.Index)
	}
	if err := callError(op, int(rc), uint64(out.leader), cause); err != nil {
		return Result{}, err
	}
	return r, nil
}

func bytesPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(b))
}

// Read performs a linearizable read (Raft thesis §6.4): once this node's
// state machine reflects every write that completed before the call, fn
// runs on the apply thread, in order with FSM.Apply, and may read the
// state machine without locks. Read returns fn's error (wrapped with
// ErrCallback; a panic becomes a *PanicError), or *NotLeaderError,
// ErrTimeout, ErrCanceled, ErrSteppedDown, ErrShutdown. When Read returns
// a context error, fn has not run and never will. fn must not call the
// node's blocking methods (Status, Close).
func (n *Node) Read(ctx context.Context, fn func() error) error {
	if fn == nil {
		return &Error{Op: "read", Code: ErrInvalid}
	}
	_, err := n.call(ctx, "read", fn, func(c *C.craft_node, timeout C.uint32_t, h C.uintptr_t) C.int {
		return C.gocraft_read(c, timeout, h)
	})
	return err
}

func (n *Node) runRead(fn func() error) (err error) {
	n.fsmMu.Lock()
	defer n.fsmMu.Unlock()
	defer func() {
		if v := recover(); v != nil {
			err = newPanicError("Read", v)
		}
	}()
	return fn()
}

const (
	opAddPeer = 1 + iota
	opAddLearner
	opPromoteLearner
	opRemovePeer
	opTransfer
)

func (n *Node) member(ctx context.Context, name string, op int, peer uint64) (Result, error) {
	r, err := n.call(ctx, name, nil, func(c *C.craft_node, timeout C.uint32_t, h C.uintptr_t) C.int {
		return C.gocraft_member(c, C.int(op), C.uint64_t(peer), timeout, h)
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Index: r.index, Term: r.term}, nil
}

// AddPeer adds server peer to the cluster, on the leader: first as a
// learner, then as a voter once it caught up (thesis §4.2.1). It returns
// once the promotion is committed and applied here. Errors:
// *NotLeaderError, ErrBusy (another change in progress: retry), ErrExist,
// ErrTimeout, ErrSteppedDown, ErrShutdown.
func (n *Node) AddPeer(ctx context.Context, peer uint64) (Result, error) {
	return n.member(ctx, "add peer", opAddPeer, peer)
}

// AddPeerAt is AddPeer with the new server's address (opaque to craft,
// at most 255 bytes), stored with it in the membership so that every
// server's transport can reach it.
func (n *Node) AddPeerAt(ctx context.Context, peer uint64, addr string) (Result, error) {
	return n.memberAddr(ctx, "add peer", 1, peer, addr)
}

// AddLearnerAt is AddLearner with the new server's address.
func (n *Node) AddLearnerAt(ctx context.Context, peer uint64, addr string) (Result, error) {
	return n.memberAddr(ctx, "add learner", 2, peer, addr)
}

func (n *Node) memberAddr(ctx context.Context, name string, op int, peer uint64, addr string) (Result, error) {
	b := []byte(addr)
	r, err := n.call(ctx, name, nil, func(c *C.craft_node, timeout C.uint32_t, h C.uintptr_t) C.int {
		return C.gocraft_member_addr(c, C.int(op), C.uint64_t(peer), bytesPtr(b), C.size_t(len(b)), timeout, h)
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Index: r.index, Term: r.term}, nil
}

// AddLearner adds server peer as a non-voting learner.
func (n *Node) AddLearner(ctx context.Context, peer uint64) (Result, error) {
	return n.member(ctx, "add learner", opAddLearner, peer)
}

// PromoteLearner makes learner peer a voter once it caught up.
func (n *Node) PromoteLearner(ctx context.Context, peer uint64) (Result, error) {
	return n.member(ctx, "promote learner", opPromoteLearner, peer)
}

// RemovePeer removes a voter or learner (possibly this node: a leader
// that removes itself steps down once the change commits).
func (n *Node) RemovePeer(ctx context.Context, peer uint64) (Result, error) {
	return n.member(ctx, "remove peer", opRemovePeer, peer)
}

// TransferLeadership hands leadership to voter peer (thesis §3.10) and
// returns once peer leads. Errors: *NotLeaderError, ErrUnknownPeer,
// ErrBusy, ErrTimeout, ErrSteppedDown, ErrShutdown.
func (n *Node) TransferLeadership(ctx context.Context, peer uint64) error {
	_, err := n.member(ctx, "transfer leadership", opTransfer, peer)
	return err
}

// Snapshot takes a snapshot now (FSM.Snapshot on the apply thread) and
// compacts the log; the Result is the snapshot's index and term. ErrState
// when snapshots are disabled or nothing was applied since the last one.
func (n *Node) Snapshot(ctx context.Context) (Result, error) {
	r, err := n.call(ctx, "snapshot", nil, func(c *C.craft_node, timeout C.uint32_t, h C.uintptr_t) C.int {
		return C.gocraft_snapshot(c, timeout, h)
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Index: r.index, Term: r.term}, nil
}

// Receive hands bytes a peer sent to the node, for transports written in
// Go (GoTransport); the bytes are copied. ErrBusy: the inbox is full and
// the bytes were dropped (Raft retransmits). ErrTooBig, ErrShutdown.
func (n *Node) Receive(msg []byte) error {
	if !n.enter() {
		return &Error{Op: "receive", Code: ErrShutdown}
	}
	defer n.leave()
	if rc := C.craft_node_receive(n.c, bytesPtr(msg), C.size_t(len(msg))); rc != 0 {
		return &Error{Op: "receive", Code: Errno(rc)}
	}
	return nil
}

// WaitLeader waits until this node knows a leader and returns its id.
func (n *Node) WaitLeader(ctx context.Context) (uint64, error) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if id := n.Leader(); id != 0 {
			return id, nil
		}
		if n.closed.Load() {
			return 0, &Error{Op: "wait leader", Code: ErrShutdown}
		}
		select {
		case <-ctx.Done():
			return 0, ctxError("wait leader", ctx.Err())
		case <-t.C:
		}
	}
}

// ---- state machine callbacks ------------------------------------------

func nodeOf(h C.uintptr_t) *Node { return cgo.Handle(h).Value().(*Node) }

//export goCraftApply
func goCraftApply(h C.uintptr_t, index, term C.uint64_t, data unsafe.Pointer, n C.size_t, res *unsafe.Pointer, resLen *C.size_t) C.int {
	node := nodeOf(h)
	node.fsmMu.Lock()
	defer node.fsmMu.Unlock()
	out, err := node.apply(uint64(index), uint64(term), C.GoBytes(data, C.int(n)))
	if err != nil {
		node.putApplyErr(uint64(index), err)
		return C.CRAFT_ECALLBACK
	}
	if len(out) > 0 {
		if rc := C.gocraft_scratch(&node.scratch, &node.scratchCap, unsafe.Pointer(&out[0]), C.size_t(len(out))); rc != 0 {
			return rc
		}
		*res = node.scratch
		*resLen = C.size_t(len(out))
	}
	return 0
}

func (n *Node) apply(index, term uint64, data []byte) (out []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, newPanicError("Apply", v)
		}
	}()
	return n.fsm.Apply(index, term, data)
}

// The error of a failed Apply waits here for the proposal's completion,
// which craft runs after the entry's apply. Entries of other servers'
// proposals have no local completion: the map is pruned as the index
// moves on.
const applyErrKeep = 1 << 16

func (n *Node) putApplyErr(index uint64, err error) {
	n.applyErrMu.Lock()
	defer n.applyErrMu.Unlock()
	if len(n.applyErrs) >= 1024 {
		for i := range n.applyErrs {
			if i+applyErrKeep < index {
				delete(n.applyErrs, i)
			}
		}
	}
	n.applyErrs[index] = err
}

func (n *Node) takeApplyErr(index uint64) error {
	n.applyErrMu.Lock()
	defer n.applyErrMu.Unlock()
	err := n.applyErrs[index]
	delete(n.applyErrs, index)
	return err
}

func boolInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// createMsgBytes is the room for craft_node_create_msg's message.
const createMsgBytes = 512

// createDetail explains a NewNode failure code the C library gave no
// message for.
func createDetail(rc C.int) string {
	switch Errno(rc) {
	case ErrInvalid:
		return "a field of Config is out of range"
	case ErrStruct:
		return "libcraft is older than this binding"
	}
	return ""
}

var errClosedWriter = errors.New("craft: snapshot writer used after Snapshot returned")
