package craft

/*
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
)

// Errno is one of craft's error codes (the C API's negative CRAFT_E*
// values). Every error this package returns matches exactly one Errno with
// errors.Is: errors.Is(err, craft.ErrTimeout).
type Errno int

// The error codes of the C API (fixed values, never reused).
const (
	ErrInvalid     Errno = C.CRAFT_EINVAL       // an argument is nil, zero or out of range
	ErrNoMemory    Errno = C.CRAFT_ENOMEM       // an allocation failed
	ErrStruct      Errno = C.CRAFT_ESTRUCT      // struct_size mismatch (a binding bug)
	ErrMalformed   Errno = C.CRAFT_EMALFORMED   // bytes do not decode
	ErrChecksum    Errno = C.CRAFT_ECHECKSUM    // bytes decode but their CRC32C is wrong
	ErrVersion     Errno = C.CRAFT_EVERSION     // a format version this build does not know
	ErrTooBig      Errno = C.CRAFT_ETOOBIG      // a buffer or count exceeds a limit
	ErrNotLeader   Errno = C.CRAFT_ENOTLEADER   // only a leader can do this; see NotLeaderError
	ErrUnknownPeer Errno = C.CRAFT_EUNKNOWNPEER // the peer is not a member
	ErrShutdown    Errno = C.CRAFT_ESHUTDOWN    // the node is closed
	ErrBusy        Errno = C.CRAFT_EBUSY        // too many pending calls, or a change in progress: retry
	ErrTimeout     Errno = C.CRAFT_ETIMEDOUT    // the deadline passed (outcome of a proposal unknown)
	ErrLost        Errno = C.CRAFT_ELOST        // the proposal was overwritten: it will never commit
	ErrSteppedDown Errno = C.CRAFT_ESTEPPEDDOWN // leadership was lost while waiting (outcome unknown)
	ErrNotReady    Errno = C.CRAFT_ENOTREADY    // the leader has not committed in its term yet
	ErrCallback    Errno = C.CRAFT_ECALLBACK    // a user callback failed; its error is wrapped too
	ErrState       Errno = C.CRAFT_ESTATE       // not valid now (e.g. a blocking call from a callback)
	ErrIO          Errno = C.CRAFT_EIO          // storage or transport failed; the node stopped
	ErrCorrupt     Errno = C.CRAFT_ECORRUPT     // persisted state contradicts itself
	ErrExist       Errno = C.CRAFT_EEXIST       // already exists (e.g. already a member)
	ErrNotFound    Errno = C.CRAFT_ENOENT       // does not exist
	ErrCanceled    Errno = C.CRAFT_ECANCELED    // canceled (a Go context was canceled)
)

// Error returns the C library's description ("CRAFT_EBUSY: ...").
func (e Errno) Error() string { return C.GoString(C.craft_strerror(C.int(e))) }

// Error is the error of a failed call: the operation, the code and, when
// known, the detail message of the node and the cause (the error a user
// callback returned, or the context's error). errors.Is matches both the
// code and the cause.
type Error struct {
	Op     string // "propose", "read", "add peer", ...
	Code   Errno
	Detail string // the node's detailed message, when it has one
	Err    error  // the cause, or nil
}

func (e *Error) Error() string {
	s := "craft: " + e.Op + ": " + e.Code.Error()
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the code and the cause, for errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Code}
	}
	return []error{e.Code, e.Err}
}

// NotLeaderError is the error of a call that only a leader can serve, made
// on a server that is not the leader. It matches ErrNotLeader.
type NotLeaderError struct {
	Op     string
	Leader uint64 // the leader this server knows, 0 when none
}

func (e *NotLeaderError) Error() string {
	if e.Leader == 0 {
		return "craft: " + e.Op + ": not the leader, leader unknown"
	}
	return fmt.Sprintf("craft: %s: not the leader, leader is %d", e.Op, e.Leader)
}

// Unwrap returns ErrNotLeader.
func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }

// PanicError is the error a recovered panic of a user callback becomes.
// It is wrapped in an *Error with code ErrCallback where a caller waits
// for the callback's outcome.
type PanicError struct {
	Callback string // "Apply", "Snapshot", "Restore", "Read", ...
	Value    any    // what the callback panicked with
	Stack    []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("craft: %s panicked: %v", e.Callback, e.Value)
}

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

func newPanicError(callback string, v any) *PanicError {
	return &PanicError{Callback: callback, Value: v, Stack: debug.Stack()}
}

// codeError turns a negative C return code into an error, nil for
// CRAFT_OK.
func codeError(op string, rc C.int) error {
	if rc >= 0 {
		return nil
	}
	return &Error{Op: op, Code: Errno(rc)}
}

// callError is the error of an asynchronous call that completed with
// status, with the leader hint and the user callback's error (cause).
func callError(op string, status int, leader uint64, cause error) error {
	if status == 0 {
		return nil
	}
	if Errno(status) == ErrNotLeader {
		return &NotLeaderError{Op: op, Leader: leader}
	}
	return &Error{Op: op, Code: Errno(status), Err: cause}
}

// ctxError is the error of a call whose context ended first: ErrTimeout
// with context.DeadlineExceeded, or ErrCanceled with context.Canceled.
func ctxError(op string, err error) error {
	code := ErrCanceled
	if errors.Is(err, context.DeadlineExceeded) {
		code = ErrTimeout
	}
	return &Error{Op: op, Code: code, Err: err}
}

// errorCode maps a Go error returned by a user callback to the code C
// sees: an Errno (also wrapped) passes through, anything else is
// ErrCallback.
func errorCode(err error) C.int {
	if err == nil {
		return 0
	}
	var e Errno
	if errors.As(err, &e) && e < 0 {
		return C.int(e)
	}
	return C.CRAFT_ECALLBACK
}
