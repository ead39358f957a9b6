package craft

/*
#include "shim.h"
*/
import "C"

import (
	"runtime/cgo"
	"sync"
	"unsafe"
)

// Storage keeps a node's durable state: the Raft hard state, the log and
// the latest snapshot. MemStorage and FileStorage are craft's own (in C);
// GoStorage adapts a StorageBackend written in Go. A Storage outlives the
// nodes that use it, one node at a time, so a node can be closed and a
// new one created from the same storage (a restart).
type Storage interface {
	bindStorage(c *C.gocraft_cfg) (binding, error)
}

// inUse makes sure one node at a time uses a storage.
type inUse struct {
	mu     sync.Mutex
	used   bool
	closed bool
}

func (u *inUse) acquire(what string) (func(), error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return nil, &Error{Op: "new node", Code: ErrShutdown, Detail: what + " is closed"}
	}
	if u.used {
		return nil, &Error{Op: "new node", Code: ErrBusy, Detail: what + " is in use by another node"}
	}
	u.used = true
	return func() {
		u.mu.Lock()
		u.used = false
		u.mu.Unlock()
	}, nil
}

// close marks it closed; false while a node uses it.
func (u *inUse) close() (first bool, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.used {
		return false, ErrBusy
	}
	first = !u.closed
	u.closed = true
	return first, nil
}

// ---- in-memory storage (C) --------------------------------------------

// MemStorage is craft's in-memory storage (craft/testing.h): fast and not
// durable across processes; for tests, benchmarks and examples.
type MemStorage struct {
	c   *C.craft_mem_storage
	use inUse
}

// NewMemStorage creates an empty in-memory storage. It panics only when
// memory is exhausted.
func NewMemStorage() *MemStorage {
	var c *C.craft_mem_storage
	if rc := C.craft_mem_storage_create(nil, &c); rc != 0 {
		panic(codeError("new mem storage", rc))
	}
	return &MemStorage{c: c}
}

func (m *MemStorage) bindStorage(c *C.gocraft_cfg) (binding, error) {
	release, err := m.use.acquire("the storage")
	if err != nil {
		return binding{}, err
	}
	if rc := C.craft_mem_storage_ops(m.c, &c.storage); rc != 0 {
		release()
		return binding{}, codeError("new node", rc)
	}
	return binding{release: release}, nil
}

// Close frees the storage. ErrBusy while a node uses it.
func (m *MemStorage) Close() error {
	first, err := m.use.close()
	if err != nil {
		return &Error{Op: "close storage", Code: ErrBusy}
	}
	if first {
		C.craft_mem_storage_free(m.c)
		m.c = nil
	}
	return nil
}

// Fail makes every later write fail with code (a negative Errno, e.g.
// ErrIO), to test a node's fail-stop; 0 clears it.
func (m *MemStorage) Fail(code Errno) error {
	return codeError("storage fail", C.craft_mem_storage_fail(m.c, C.int(code)))
}

// Crash simulates a power loss: the storage forgets every write made
// since its last successful sync, and every later write fails with ErrIO
// until Fail(0), so the node still using it stops. Close that node, call
// Fail(0) and create a new node from the storage: a restart after a
// crash.
func (m *MemStorage) Crash() error {
	return codeError("storage crash", C.craft_mem_storage_crash(m.c))
}

// MemStorageState is what a MemStorage holds.
type MemStorageState struct {
	LastIndex, SnapshotIndex, Term, Vote, Syncs uint64
}

// State returns what the storage holds now.
func (m *MemStorage) State() MemStorageState {
	return MemStorageState{
		LastIndex:     uint64(C.craft_mem_storage_last_index(m.c)),
		SnapshotIndex: uint64(C.craft_mem_storage_snapshot_index(m.c)),
		Term:          uint64(C.craft_mem_storage_term(m.c)),
		Vote:          uint64(C.craft_mem_storage_vote(m.c)),
		Syncs:         uint64(C.craft_mem_storage_syncs(m.c)),
	}
}

// ---- storage written in Go --------------------------------------------

// StorageBackend is a storage written in Go. Its methods are called on
// craft's threads, never two at a time (GoStorage also serialises them).
// Byte slices passed in are borrowed for the call: copy what you keep.
// An error from a write stops the node (fail-stop: it can no longer keep
// Raft's promises); return an Errno to choose the code (ErrIO otherwise
// ErrCallback).
type StorageBackend interface {
	// Load feeds the persisted state to l: the hard state, then the
	// latest complete snapshot's metadata, if any, then the log entries
	// in index order (those at or below the snapshot index are skipped).
	// An empty storage feeds nothing.
	Load(l *Loader) error
	// SaveHardState records (term, vote), replacing the old one.
	SaveHardState(term, vote uint64) error
	// Append writes the log entry at index (the log after index-1).
	Append(index, term uint64, typ EntryType, data []byte) error
	// Truncate deletes the log entries >= index.
	Truncate(index uint64) error
	// Sync makes every write so far durable.
	Sync() error
	// SnapshotWrite writes data at offset of the snapshot at index
	// (term); offset 0 starts a new one, the current one stays in force
	// until last: then conf (the membership bytes) is stored with it and
	// it becomes the current snapshot; entries <= index may be dropped.
	SnapshotWrite(index, term, offset uint64, data []byte, conf []byte, last bool) error
	// SnapshotRead copies bytes at offset of the current snapshot at
	// index into buf: the number copied, and whether they end it.
	// ErrNotFound when that snapshot is gone.
	SnapshotRead(index, offset uint64, buf []byte) (n int, last bool, err error)
}

// EntryType is the type of a log entry.
type EntryType uint32

// Log entry types: the user's payloads, a new leader's empty entry and
// membership changes (bytes the engine encodes itself).
const (
	EntryNormal EntryType = C.CRAFT_ENTRY_NORMAL
	EntryNoop   EntryType = C.CRAFT_ENTRY_NOOP
	EntryConfig EntryType = C.CRAFT_ENTRY_CONFIG
)

// Loader feeds a StorageBackend's persisted state to the node during
// Load. Its methods check what they are fed and return the error Load
// should return.
type Loader struct{ l *C.craft_loader }

// HardState feeds the term and vote.
func (l *Loader) HardState(term, vote uint64) error {
	return codeError("load hard state", C.craft_loader_hard_state(l.l, C.uint64_t(term), C.uint64_t(vote)))
}

// Snapshot feeds the latest complete snapshot's metadata.
func (l *Loader) Snapshot(index, term uint64, conf []byte) error {
	return codeError("load snapshot", C.craft_loader_snapshot(l.l, C.uint64_t(index), C.uint64_t(term), bytesPtr(conf), C.size_t(len(conf))))
}

// Entry feeds one log entry.
func (l *Loader) Entry(index, term uint64, typ EntryType, data []byte) error {
	return codeError("load entry", C.craft_loader_entry(l.l, C.uint64_t(index), C.uint64_t(term), C.uint32_t(typ), bytesPtr(data), C.size_t(len(data))))
}

type goStorage struct {
	b   StorageBackend
	mu  sync.Mutex // craft serialises the calls in C; this shows it to Go
	use inUse
}

// GoStorage adapts a StorageBackend to a Storage.
func GoStorage(b StorageBackend) Storage { return &goStorage{b: b} }

func (s *goStorage) bindStorage(c *C.gocraft_cfg) (binding, error) {
	release, err := s.use.acquire("the storage")
	if err != nil {
		return binding{}, err
	}
	h := newHandle(s)
	C.gocraft_cfg_go_storage(c, C.uintptr_t(h))
	return binding{release: func() { deleteHandle(h); release() }}, nil
}

func storageOf(h C.uintptr_t) *goStorage { return cgo.Handle(h).Value().(*goStorage) }

func (s *goStorage) do(name string, fn func() error) C.int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errorCode(guard(name, fn))
}

// goBytes views C memory as a byte slice for the duration of a callback.
func goBytes(p unsafe.Pointer, n C.size_t) []byte {
	if n == 0 || p == nil {
		return nil
	}
	return unsafe.Slice((*byte)(p), int(n))
}

//export goCraftStorageLoad
func goCraftStorageLoad(h C.uintptr_t, l *C.craft_loader) C.int {
	s := storageOf(h)
	ld := &Loader{l: l}
	defer func() { ld.l = nil }()
	return s.do("Load", func() error { return s.b.Load(ld) })
}

//export goCraftStorageHardState
func goCraftStorageHardState(h C.uintptr_t, term, vote C.uint64_t) C.int {
	s := storageOf(h)
	return s.do("SaveHardState", func() error { return s.b.SaveHardState(uint64(term), uint64(vote)) })
}

//export goCraftStorageAppend
func goCraftStorageAppend(h C.uintptr_t, index, term C.uint64_t, typ C.uint32_t, data unsafe.Pointer, n C.size_t) C.int {
	s := storageOf(h)
	return s.do("Append", func() error {
		return s.b.Append(uint64(index), uint64(term), EntryType(typ), goBytes(data, n))
	})
}

//export goCraftStorageTruncate
func goCraftStorageTruncate(h C.uintptr_t, index C.uint64_t) C.int {
	s := storageOf(h)
	return s.do("Truncate", func() error { return s.b.Truncate(uint64(index)) })
}

//export goCraftStorageSync
func goCraftStorageSync(h C.uintptr_t) C.int {
	s := storageOf(h)
	return s.do("Sync", s.b.Sync)
}

//export goCraftStorageSnapshotWrite
func goCraftStorageSnapshotWrite(h C.uintptr_t, index, term, offset C.uint64_t, data unsafe.Pointer, n C.size_t, conf unsafe.Pointer, confLen C.size_t, flags C.uint32_t) C.int {
	s := storageOf(h)
	return s.do("SnapshotWrite", func() error {
		return s.b.SnapshotWrite(uint64(index), uint64(term), uint64(offset), goBytes(data, n),
			goBytes(conf, confLen), flags&C.CRAFT_SNAPSHOT_F_LAST != 0)
	})
}

//export goCraftStorageSnapshotRead
func goCraftStorageSnapshotRead(h C.uintptr_t, index, offset C.uint64_t, buf unsafe.Pointer, count C.size_t, n *C.size_t, last *C.int) C.int {
	s := storageOf(h)
	return s.do("SnapshotRead", func() error {
		got, end, err := s.b.SnapshotRead(uint64(index), uint64(offset), goBytes(buf, count))
		if err != nil {
			return err
		}
		if got < 0 || got > int(count) {
			return ErrInvalid
		}
		*n = C.size_t(got)
		*last = boolInt(end)
		return nil
	})
}
