package craft

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"
)

func TestRestartFromFileStorage(t *testing.T) {
	dir := t.TempDir()
	tweak := func(cfg *Config) { cfg.SnapshotEntries = 20; cfg.SnapshotTrailing = 5 }
	c := newClusterIn(t, dir, 3, tweak)
	var last Result
	for i := 0; i < 60; i++ {
		last = c.propose(fmt.Sprintf("set %s %d", key(i), i))
	}
	c.converge(last.Index)
	want := c.fsms[1].snapshotOf()
	// Stop the whole cluster, close the storages, and start it again from
	// the directories with empty state machines: snapshots are restored
	// through Go, the rest of the logs replayed.
	for _, id := range c.ids {
		c.stop(id)
		if err := c.files[id].Close(); err != nil {
			t.Fatal(err)
		}
		delete(c.files, id)
		c.fsms[id] = newKV()
	}
	for _, id := range c.ids {
		c.start(id, c.ids) // Bootstrap is ignored on a restart
	}
	// Every node applies up to the new entry before its state is read: a
	// follower applies what it learns committed a tick or so later.
	c.converge(c.propose("set after restart").Index)
	for _, id := range c.ids {
		if c.fsms[id].restores == 0 {
			t.Fatalf("node %d did not restore its snapshot", id)
		}
	}
	got := c.fsms[1].snapshotOf()
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("after restart %s=%q, want %q", k, got[k], v)
		}
	}
	res := c.propose("set more 1")
	c.converge(res.Index)
	c.sameState()
}

func TestFileStorageErrors(t *testing.T) {
	dir := t.TempDir()
	rec := &recorder{}
	fs, err := OpenFileStorage(dir, &FileStorageOptions{NodeID: 1, SyncMode: SyncNoneUnsafeForTests,
		SegmentBytes: 1 << 20, Logger: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	if fs.Dir() != dir || fs.ErrMessage() != "" {
		t.Fatalf("dir %q, message %q", fs.Dir(), fs.ErrMessage())
	}
	// The directory is locked while open.
	_, err = NewFileStorage(dir)
	var e *Error
	if !errors.Is(err, ErrBusy) || !errors.As(err, &e) || e.Detail == "" {
		t.Fatalf("second open: %v", err)
	}
	// A directory of node 1 is not node 2's.
	fs.Close()
	_, err = OpenFileStorage(dir, &FileStorageOptions{NodeID: 2})
	if !errors.Is(err, ErrState) {
		t.Fatalf("other node's directory: %v", err)
	}
	if _, err := OpenFileStorage(dir, &FileStorageOptions{SegmentBytes: 1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad segment size: %v", err)
	}
	// In use by a node: Close refuses.
	fs, err = NewFileStorage(dir)
	if err != nil {
		t.Fatal(err)
	}
	hub := NewHub()
	// WaitLeader: the proposal below waits for the election.
	n, err := NewNode(Config{ID: 1, Storage: fs, Transport: hub, FSM: newKV(), Bootstrap: []uint64{1}, WaitLeader: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Close(); !errors.Is(err, ErrBusy) {
		t.Fatalf("close in use: %v", err)
	}
	if _, err := n.Propose(ctxT(t, 5*time.Second), []byte("set a 1")); err != nil {
		t.Fatal(err)
	}
	n.Close()
	if err := fs.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fs.Close(); err != nil {
		t.Fatal("second close", err)
	}
	hub.Close()
}

func TestCrashAndRestart(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.propose("set a 1")
	l := c.leader()
	var f uint64
	for _, id := range c.ids {
		if id != l.ID() {
			f = id
		}
	}
	// A power loss on a follower: it forgets unsynced writes and stops.
	if err := c.stores[f].Crash(); err != nil {
		t.Fatal(err)
	}
	c.propose("set b 2")
	c.stop(f)
	if err := c.stores[f].Fail(0); err != nil {
		t.Fatal(err)
	}
	c.fsms[f] = newKV()
	c.start(f, nil)
	res := c.propose("set c 3")
	c.converge(res.Index)
	c.sameState()
}
