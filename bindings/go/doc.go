// Package craft is the Go binding of craft, a Raft consensus library
// written in C (libcraft.so.1).
//
// A Node replicates a state machine (an FSM) over a cluster of servers.
// The C runtime does the work: its driver thread steps the Raft engine,
// writes the log through a Storage and sends messages through a
// Transport; its apply thread calls the FSM. This package turns that into
// Go: contexts for deadlines and cancellation, errors comparable with
// errors.Is, trace events through log/slog, and the FSM, storage and
// transport as Go interfaces.
//
//	fsm := &myFSM{}
//	n, err := craft.NewNode(craft.Config{
//		ID:        1,
//		Storage:   craft.NewMemStorage(),
//		Transport: hub.Transport(1),
//		FSM:       fsm,
//		Bootstrap: []uint64{1, 2, 3},
//	})
//	...
//	res, err := n.Propose(ctx, []byte("x=1"))
//	var nl *craft.NotLeaderError
//	if errors.As(err, &nl) { /* retry on nl.Leader */ }
//
// # Building
//
// The package is written over cgo and links the installed C library
// through pkg-config (#cgo pkg-config: craft). Install libcraft first
// (make install in the repository), or point PKG_CONFIG_PATH at a staged
// install and LD_LIBRARY_PATH at its lib directory, as `make go-test`
// does.
//
// # Threads and callbacks
//
// The FSM, a Go Storage or Transport and the trace logger are called on
// craft's C threads; the storage, transport and trace callbacks also on
// the thread of a goroutine whose Propose runs the node's round itself
// (a context that is never done: see Node.Propose). The C side holds only runtime/cgo.Handle values,
// never Go pointers. FSM methods and Read functions run one at a time on
// the apply thread; a panic in any callback is recovered and reported as
// that callback's error. Close shuts the node down, completes every
// pending call and releases every handle.
package craft
