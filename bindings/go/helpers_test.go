package craft

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// kvFSM is the tests' state machine: "set k v" entries into a map. Apply
// returns the previous value. Tests read it under mu from their own
// goroutine; inside Read functions no lock is needed.
type kvFSM struct {
	mu       sync.Mutex
	m        map[string]string
	applied  uint64
	restores int
	snaps    int

	failApply  func(data string) error // returns Apply's error, if any
	panicApply string                  // Apply panics on this payload
	panicSnap  bool
}

func newKV() *kvFSM { return &kvFSM{m: map[string]string{}} }

func (f *kvFSM) Apply(index, term uint64, data []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = index
	s := string(data)
	if f.panicApply != "" && s == f.panicApply {
		panic("apply panic: " + s)
	}
	if f.failApply != nil {
		if err := f.failApply(s); err != nil {
			return nil, err
		}
	}
	parts := strings.SplitN(s, " ", 3)
	if len(parts) != 3 || parts[0] != "set" {
		return nil, nil
	}
	old := f.m[parts[1]]
	f.m[parts[1]] = parts[2]
	return []byte(old), nil
}

func (f *kvFSM) Snapshot(w io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panicSnap {
		panic("snapshot panic")
	}
	f.snaps++
	return json.NewEncoder(w).Encode(f.m)
}

func (f *kvFSM) Restore(r io.Reader) error {
	m := map[string]string{}
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m = m
	f.restores++
	return nil
}

func (f *kvFSM) get(k string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m[k]
}

func (f *kvFSM) snapshotOf() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(map[string]string, len(f.m))
	for k, v := range f.m {
		c[k] = v
	}
	return c
}

// cluster is n nodes over one Hub with memory storages.
type cluster struct {
	t       *testing.T
	hub     *Hub
	ids     []uint64
	nodes   map[uint64]*Node
	fsms    map[uint64]*kvFSM
	stores  map[uint64]*MemStorage
	files   map[uint64]*FileStorage // with dir set: file storages
	dir     string
	tweak   func(*Config)
	closing bool
}

// fastConfig: elections in 300-600 ms, long enough that a loaded machine
// does not trip them, short enough for quick tests.
func fastConfig(c *Config) {
	c.TickInterval = 10 * time.Millisecond
	c.ElectionTicks = 30
	c.HeartbeatTicks = 3
	c.RequestTimeout = 5 * time.Second
}

func newCluster(t *testing.T, n int, tweak func(*Config)) *cluster {
	return newClusterIn(t, "", n, tweak)
}

// newClusterIn: with dir set, every node keeps its state in a
// FileStorage under dir.
func newClusterIn(t *testing.T, dir string, n int, tweak func(*Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, hub: NewHub(), nodes: map[uint64]*Node{}, fsms: map[uint64]*kvFSM{},
		stores: map[uint64]*MemStorage{}, files: map[uint64]*FileStorage{}, dir: dir, tweak: tweak}
	for i := 1; i <= n; i++ {
		c.ids = append(c.ids, uint64(i))
	}
	for _, id := range c.ids {
		c.start(id, c.ids)
	}
	t.Cleanup(c.close)
	return c
}

func (c *cluster) config(id uint64, bootstrap []uint64) Config {
	if c.fsms[id] == nil {
		c.fsms[id] = newKV()
	}
	var st Storage
	if c.dir != "" {
		if c.files[id] == nil {
			fs, err := OpenFileStorage(fmt.Sprintf("%s/n%d", c.dir, id), &FileStorageOptions{NodeID: id})
			if err != nil {
				c.t.Fatalf("open file storage %d: %v", id, err)
			}
			c.files[id] = fs
		}
		st = c.files[id]
	} else {
		if c.stores[id] == nil {
			c.stores[id] = NewMemStorage()
		}
		st = c.stores[id]
	}
	cfg := Config{ID: id, Storage: st, Transport: c.hub, FSM: c.fsms[id], Bootstrap: bootstrap}
	fastConfig(&cfg)
	if c.tweak != nil {
		c.tweak(&cfg)
	}
	return cfg
}

func (c *cluster) start(id uint64, bootstrap []uint64) *Node {
	c.t.Helper()
	n, err := NewNode(c.config(id, bootstrap))
	if err != nil {
		c.t.Fatalf("NewNode(%d): %v", id, err)
	}
	c.nodes[id] = n
	return n
}

func (c *cluster) stop(id uint64) {
	c.t.Helper()
	if n := c.nodes[id]; n != nil {
		if err := n.Close(); err != nil {
			c.t.Fatalf("Close(%d): %v", id, err)
		}
		delete(c.nodes, id)
	}
}

func (c *cluster) close() {
	for id := range c.nodes {
		c.stop(id)
	}
	for _, s := range c.stores {
		if err := s.Close(); err != nil {
			c.t.Errorf("storage close: %v", err)
		}
	}
	for _, s := range c.files {
		if err := s.Close(); err != nil {
			c.t.Errorf("file storage close: %v", err)
		}
	}
	if err := c.hub.Close(); err != nil {
		c.t.Errorf("hub close: %v", err)
	}
}

// leader waits until every running node (but skip) agrees on one leader.
func (c *cluster) leader(skip ...uint64) *Node {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var lead uint64
		agree := true
		for id, n := range c.nodes {
			if contains(skip, id) {
				continue
			}
			l := n.Leader()
			if l == 0 || (lead != 0 && l != lead) || contains(skip, l) {
				agree = false
				break
			}
			lead = l
		}
		if agree && lead != 0 && c.nodes[lead] != nil && c.nodes[lead].IsLeader() {
			return c.nodes[lead]
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatalf("no leader agreed on within 20s")
	return nil
}

func contains(ids []uint64, id uint64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// propose retries on the current leader until the entry commits.
func (c *cluster) propose(data string) Result {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		l := c.leader()
		res, err := l.Propose(ctxT(c.t, 5*time.Second), []byte(data))
		if err == nil {
			return res
		}
		var nl *NotLeaderError
		if !errors.As(err, &nl) && !errors.Is(err, ErrSteppedDown) && !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrBusy) {
			c.t.Fatalf("propose %q: %v", data, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatalf("propose %q: no success within 20s", data)
	return Result{}
}

// converge waits until every running node applied index.
func (c *cluster) converge(index uint64) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ok := true
		for _, n := range c.nodes {
			if n.AppliedIndex() < index {
				ok = false
			}
		}
		if ok {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	for id, n := range c.nodes {
		c.t.Logf("node %d applied %d", id, n.AppliedIndex())
	}
	c.t.Fatalf("nodes did not apply %d within 20s", index)
}

func (c *cluster) sameState() {
	c.t.Helper()
	var ref map[string]string
	var refID uint64
	for id := range c.nodes {
		s := c.fsms[id].snapshotOf()
		if ref == nil {
			ref, refID = s, id
			continue
		}
		a, _ := json.Marshal(ref)
		b, _ := json.Marshal(s)
		if !bytes.Equal(a, b) {
			c.t.Fatalf("state of %d differs from %d: %s vs %s", id, refID, b, a)
		}
	}
}

func key(i int) string { return fmt.Sprintf("k%04d", i) }
