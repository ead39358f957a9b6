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

// Transport carries messages between servers. A *Hub connects nodes of
// one process (craft's in-process transport, in C); the TCP transport
// connects processes; GoTransport adapts a TransportBackend written in
// Go, whose receiving side hands incoming bytes to Node.Receive.
type Transport interface {
	bindTransport(c *C.gocraft_cfg, id uint64) (binding, error)
}

// ---- in-process hub (C) -------------------------------------------------

// Hub is craft's in-process transport (craft/testing.h): a switch between
// the nodes of one process, with links that can be cut to test
// partitions. Use the same *Hub as the Transport of every node; each is
// attached under its Config.ID.
type Hub struct {
	mu     sync.RWMutex
	c      *C.craft_hub
	nodes  int
	closed bool
}

// NewHub creates a hub. It panics only when memory is exhausted.
func NewHub() *Hub {
	var c *C.craft_hub
	if rc := C.craft_hub_create(nil, &c); rc != 0 {
		panic(codeError("new hub", rc))
	}
	return &Hub{c: c}
}

func (hb *Hub) bindTransport(c *C.gocraft_cfg, id uint64) (binding, error) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if hb.closed {
		return binding{}, &Error{Op: "new node", Code: ErrShutdown, Detail: "the hub is closed"}
	}
	if rc := C.craft_hub_transport(hb.c, C.uint64_t(id), &c.transport); rc != 0 {
		return binding{}, codeError("new node", rc)
	}
	hb.nodes++
	return binding{
		attach: func(n *C.craft_node) error {
			return codeError("hub attach", C.craft_hub_attach(hb.c, C.uint64_t(id), n))
		},
		detach: func() { C.craft_hub_detach(hb.c, C.uint64_t(id)) },
		release: func() {
			hb.mu.Lock()
			hb.nodes--
			hb.mu.Unlock()
		},
	}, nil
}

// Close frees the hub. ErrBusy while a node uses it.
func (hb *Hub) Close() error {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if hb.nodes > 0 {
		return &Error{Op: "close hub", Code: ErrBusy}
	}
	if !hb.closed {
		hb.closed = true
		C.craft_hub_free(hb.c)
		hb.c = nil
	}
	return nil
}

func (hb *Hub) with(fn func(c *C.craft_hub) C.int) error {
	hb.mu.RLock()
	defer hb.mu.RUnlock()
	if hb.closed {
		return &Error{Op: "hub", Code: ErrShutdown}
	}
	return codeError("hub", fn(hb.c))
}

// SetLink cuts (up false) or restores the one-way link from -> to; 0
// stands for every server.
func (hb *Hub) SetLink(from, to uint64, up bool) error {
	return hb.with(func(c *C.craft_hub) C.int {
		return C.craft_hub_set_link(c, C.uint64_t(from), C.uint64_t(to), boolInt(up))
	})
}

// Isolate cuts (true) or restores every link to and from id.
func (hb *Hub) Isolate(id uint64, isolated bool) error {
	return hb.with(func(c *C.craft_hub) C.int {
		return C.craft_hub_isolate(c, C.uint64_t(id), boolInt(isolated))
	})
}

// SetBusy makes sends to id fail with ErrBusy (a peer that does not keep
// up) until cleared.
func (hb *Hub) SetBusy(id uint64, busy bool) error {
	return hb.with(func(c *C.craft_hub) C.int {
		return C.craft_hub_set_busy(c, C.uint64_t(id), boolInt(busy))
	})
}

// Counts returns the messages delivered and lost so far.
func (hb *Hub) Counts() (delivered, lost uint64) {
	hb.mu.RLock()
	defer hb.mu.RUnlock()
	if hb.closed {
		return 0, 0
	}
	return uint64(C.craft_hub_delivered(hb.c)), uint64(C.craft_hub_lost(hb.c))
}

// ---- transport written in Go ------------------------------------------

// TransportBackend is a transport written in Go. Send is called on
// craft's driver thread and must not block: return nil once the bytes
// are taken (delivery may still fail: Raft retransmits), ErrBusy to have
// the node keep them and retry later, any other error to drop them. msg
// is borrowed for the call: copy it. The receiving side passes what
// arrives to the destination's Node.Receive.
type TransportBackend interface {
	Send(peer uint64, msg []byte) error
}

type goTransport struct{ b TransportBackend }

// GoTransport adapts a TransportBackend to a Transport.
func GoTransport(b TransportBackend) Transport { return &goTransport{b: b} }

func (t *goTransport) bindTransport(c *C.gocraft_cfg, id uint64) (binding, error) {
	h := newHandle(t)
	C.gocraft_cfg_go_transport(c, C.uintptr_t(h))
	return binding{release: func() { deleteHandle(h) }}, nil
}

//export goCraftSend
func goCraftSend(h C.uintptr_t, peer C.uint64_t, data unsafe.Pointer, n C.size_t) C.int {
	t := cgo.Handle(h).Value().(*goTransport)
	return errorCode(guard("Send", func() error { return t.b.Send(uint64(peer), goBytes(data, n)) }))
}
