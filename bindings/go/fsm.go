package craft

/*
#include "shim.h"
*/
import "C"

import (
	"io"
	"unsafe"
)

// FSM is the replicated state machine. Its methods run on craft's apply
// thread, one at a time (and never concurrently with a Read function), so
// it needs no lock against them; Restore may also run on the goroutine
// calling NewNode. A panic is recovered and becomes the method's error.
type FSM interface {
	// Apply applies the committed entry at index (term). data is the
	// proposal's payload (a copy the FSM may keep). The returned bytes go
	// to the proposer in Result.Data. An error (or panic) does not undo
	// the commit: the entry counts as applied, and the proposer gets an
	// error matching ErrCallback that wraps this one. Apply must be
	// deterministic.
	Apply(index, term uint64, data []byte) ([]byte, error)
	// Snapshot writes the whole state as of the last applied entry.
	Snapshot(w io.Writer) error
	// Restore replaces the whole state by a snapshot's.
	Restore(r io.Reader) error
}

type snapshotWriter struct{ w *C.craft_snapshot_writer }

func (s *snapshotWriter) Write(p []byte) (int, error) {
	if s.w == nil {
		return 0, errClosedWriter
	}
	if len(p) == 0 {
		return 0, nil
	}
	if rc := C.craft_snapshot_writer_write(s.w, unsafe.Pointer(&p[0]), C.size_t(len(p))); rc != 0 {
		return 0, &Error{Op: "snapshot write", Code: Errno(rc)}
	}
	return len(p), nil
}

type snapshotReader struct{ r *C.craft_snapshot_reader }

func (s *snapshotReader) Read(p []byte) (int, error) {
	if s.r == nil {
		return 0, errClosedWriter
	}
	if len(p) == 0 {
		return 0, nil
	}
	var n C.size_t
	if rc := C.craft_snapshot_reader_read(s.r, unsafe.Pointer(&p[0]), C.size_t(len(p)), &n); rc != 0 {
		return 0, &Error{Op: "snapshot read", Code: Errno(rc)}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return int(n), nil
}

//export goCraftSnapshot
func goCraftSnapshot(h C.uintptr_t, index, term C.uint64_t, w *C.craft_snapshot_writer) C.int {
	node := nodeOf(h)
	node.fsmMu.Lock()
	defer node.fsmMu.Unlock()
	sw := &snapshotWriter{w: w}
	defer func() { sw.w = nil }()
	err := guard("Snapshot", func() error { return node.fsm.Snapshot(sw) })
	if err != nil {
		node.traceCallbackError("Snapshot", err)
	}
	return errorCode(err)
}

//export goCraftRestore
func goCraftRestore(h C.uintptr_t, index, term C.uint64_t, r *C.craft_snapshot_reader) C.int {
	node := nodeOf(h)
	node.fsmMu.Lock()
	defer node.fsmMu.Unlock()
	sr := &snapshotReader{r: r}
	defer func() { sr.r = nil }()
	err := guard("Restore", func() error { return node.fsm.Restore(sr) })
	if err != nil {
		node.traceCallbackError("Restore", err)
	}
	return errorCode(err)
}

// guard runs a user callback, turning a panic into a *PanicError.
func guard(name string, fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = newPanicError(name, v)
		}
	}()
	return fn()
}
