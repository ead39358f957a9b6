package craft

import (
	"sync"
	"sync/atomic"
)

// ---- the table of calls in flight -------------------------------------
//
// Every asynchronous call hands craft an integer naming its waiter, which
// the completion (on craft's apply thread) turns back into the waiter:
// no Go pointer is ever kept in C. cgo.Handle does the same for the
// node's long-lived objects; for calls, of which there are hundreds of
// thousands a second, a handle costs a sync.Map insert and delete and an
// allocation each. Here a waiter keeps one id for life and goes back to a
// free list when its call is over: taking and returning one is a push and
// a pop under a mutex, and the completion's lookup is two atomic loads.
// The table only grows to the largest number of calls ever in flight at
// once (bounded by the nodes' max_pending and the callers).

const (
	callChunkBits = 8
	callChunk     = 1 << callChunkBits // waiters per chunk
	callChunks    = 1 << 14            // chunks: up to 4M calls in flight
)

type callTable struct {
	chunks [callChunks]atomic.Pointer[[callChunk]atomic.Pointer[waiter]]
	mu     sync.Mutex
	free   []*waiter
	n      uint32 // ids handed out so far
}

var calls callTable

// acquire returns an idle waiter (its id is its slot), or nil when the
// table is full. It counts as a live handle until release.
func (t *callTable) acquire() *waiter {
	t.mu.Lock()
	if k := len(t.free); k > 0 {
		w := t.free[k-1]
		t.free[k-1] = nil
		t.free = t.free[:k-1]
		t.mu.Unlock()
		liveHandles.Add(1)
		return w
	}
	id := t.n
	if id >= callChunks*callChunk {
		t.mu.Unlock()
		return nil
	}
	t.n++
	c := t.chunks[id>>callChunkBits].Load()
	if c == nil {
		c = new([callChunk]atomic.Pointer[waiter])
		t.chunks[id>>callChunkBits].Store(c)
	}
	w := &waiter{id: uintptr(id) + 1, ch: make(chan callResult, 1)}
	c[id&(callChunk-1)].Store(w)
	t.mu.Unlock()
	liveHandles.Add(1)
	return w
}

// release returns w, whose call is over (its completion ran, or its
// start failed), to the free list.
func (t *callTable) release(w *waiter) {
	w.node, w.read = nil, nil
	t.mu.Lock()
	t.free = append(t.free, w)
	t.mu.Unlock()
	liveHandles.Add(-1)
}

// lookup turns the id a completion carries back into its waiter.
func (t *callTable) lookup(id uintptr) *waiter {
	i := uint32(id - 1)
	return t.chunks[i>>callChunkBits].Load()[i&(callChunk-1)].Load()
}
