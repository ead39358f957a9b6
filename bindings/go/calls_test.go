package craft

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The call table hands out distinct non-zero ids, turns each back into
// its waiter, reuses a released waiter, and counts live calls.
func TestCallTableIDs(t *testing.T) {
	live := liveHandles.Load()
	var ws []*waiter
	seen := map[uintptr]bool{}
	for i := 0; i < 3*callChunk; i++ { // across chunk boundaries
		w := calls.acquire()
		if w == nil || w.id == 0 || seen[w.id] {
			t.Fatalf("acquire %d: %+v (seen %v)", i, w, w != nil && seen[w.id])
		}
		seen[w.id] = true
		if calls.lookup(w.id) != w {
			t.Fatalf("lookup(%d) is not the waiter acquired", w.id)
		}
		ws = append(ws, w)
	}
	if got := liveHandles.Load() - live; got != int64(len(ws)) {
		t.Fatalf("%d live calls counted, want %d", got, len(ws))
	}
	last := ws[len(ws)-1]
	calls.release(last)
	if w := calls.acquire(); w != last {
		t.Fatalf("a released waiter is not reused first: got id %d, want %d", w.id, last.id)
	}
	for _, w := range ws {
		calls.release(w)
	}
	if got := liveHandles.Load(); got != live {
		t.Fatalf("%d live calls after releasing all, want %d", got, live)
	}
}

// Waiters are reused while calls are abandoned by their contexts: every
// result reaches the call that made it. Each goroutine writes its own
// key with increasing values; Apply returns the key's previous value,
// which must be this goroutine's own and older, and the indexes one
// goroutine sees must increase.
func TestCallResultsUnderCancellation(t *testing.T) {
	c := newCluster(t, 3, nil)
	defer c.close()
	l := c.leader()
	const goroutines, each = 16, 60
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var lastIndex uint64
			for i := 1; i <= each; i++ {
				ctx, cancel := context.WithCancel(context.Background())
				if i%3 == 0 {
					go cancel() // races with the proposal
				} else if i%3 == 1 {
					ctx, cancel = context.WithTimeout(context.Background(), time.Duration(i%5)*50*time.Microsecond)
				}
				r, err := l.Propose(ctx, []byte(fmt.Sprintf("set k%d %d:%d", g, g, i)))
				cancel()
				if err != nil {
					continue // canceled or timed out: the entry may still commit
				}
				if r.Index <= lastIndex {
					errs <- fmt.Errorf("goroutine %d: index %d after %d", g, r.Index, lastIndex)
					return
				}
				lastIndex = r.Index
				if old := string(r.Data); old != "" {
					gs, is, ok := strings.Cut(old, ":")
					j, _ := strconv.Atoi(is)
					if !ok || gs != strconv.Itoa(g) || j >= i {
						errs <- fmt.Errorf("goroutine %d, proposal %d: got another call's result %q", g, i, old)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
