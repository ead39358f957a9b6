package craft

/*
#include "shim.h"
*/
import "C"

import (
	"log/slog"
	"runtime/cgo"
	"strconv"
	"sync"
	"time"
	"unsafe"
)

// TCPConfig describes a TCP transport. ID is required; every other field
// has the C library's default when left zero.
type TCPConfig struct {
	// ID is the id of the server this transport serves: the Config.ID of
	// the node that will use it. Peers connect to it under this id.
	ID uint64
	// ClusterID must be the same on every server of a cluster: a peer
	// with another one is refused at the handshake. Default 0.
	ClusterID uint64
	// Listen is the "host:port" to listen on; port 0 picks a free one
	// (Port and Addr tell which). Default "127.0.0.1:0".
	Listen string
	// Advertise is the address sent to the peers this transport connects
	// to, where servers that do not yet have this one in their
	// membership reach it. Default: the listen address with its bound
	// port (none when it listens on a wildcard host).
	Advertise string

	MaxFrameBytes  uint32        // largest message accepted or sent; default and maximum 256 MiB
	QueueMessages  uint32        // a peer's send queue, in messages; default 1024
	QueueBytes     uint64        // a peer's send queue, in bytes; default 64 MiB
	ConnectTimeout time.Duration // to connect and complete the handshake; default 3s
	BackoffMin     time.Duration // first delay before reconnecting; default 20ms
	BackoffMax     time.Duration // the delay doubles up to this; default 2s
	StallTimeout   time.Duration // an inbound connection stuck mid-frame is closed; default 10s
	Seed           uint64        // of the reconnection jitter; 0: from the id and the clock

	// Logger receives the transport's trace events (target
	// "craft.transport", e.g. "transport.connected"). nil: no tracing.
	Logger *slog.Logger
}

// TCPTransport is craft's TCP transport (craft/tcp.h): it listens on one
// address, keeps one connection to each peer and hands what arrives to
// its node. Peers' addresses come from the node's membership (give them
// with Config.Addrs and AddPeerAt) and can be overridden with SetPeer.
// One node uses it at a time, under the id it was made for; it listens
// from NewTCPTransport on, so its address is known before the node
// exists. Sending never blocks: a message that does not fit a peer's
// queue is dropped (Raft retransmits).
//
// There is no authentication: anyone who reaches the port and knows the
// cluster id can speak for any server. Run it on a trusted network.
//
// Its methods may be called from any goroutine.
type TCPTransport struct {
	id     uint64
	listen string

	mu sync.RWMutex // read-held around C calls; write-held to free c
	c  *C.craft_tcp
	h  cgo.Handle // the trace logger, 0 when none

	use inUse
}

// NewTCPTransport creates a TCP transport and starts listening. Errors:
// ErrInvalid (ID 0, a malformed address, an option out of range), ErrIO
// (the address cannot be resolved or bound, e.g. already in use),
// ErrNoMemory.
func NewTCPTransport(cfg TCPConfig) (*TCPTransport, error) {
	if err := CheckVersion(); err != nil {
		return nil, err
	}
	var o C.craft_tcp_options
	C.craft_tcp_options_init(&o)
	o.node_id = C.uint64_t(cfg.ID)
	o.cluster_id = C.uint64_t(cfg.ClusterID)
	listen := cfg.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	clisten := C.CString(listen)
	defer C.free(unsafe.Pointer(clisten))
	o.listen = clisten
	if cfg.Advertise != "" {
		cadv := C.CString(cfg.Advertise)
		defer C.free(unsafe.Pointer(cadv))
		o.advertise = cadv
	}
	if cfg.MaxFrameBytes != 0 {
		o.max_frame_bytes = C.uint32_t(cfg.MaxFrameBytes)
	}
	if cfg.QueueMessages != 0 {
		o.queue_messages = C.uint32_t(cfg.QueueMessages)
	}
	if cfg.QueueBytes != 0 {
		o.queue_bytes = C.uint64_t(cfg.QueueBytes)
	}
	for _, d := range []struct {
		v   time.Duration
		dst *C.uint32_t
	}{{cfg.ConnectTimeout, &o.connect_timeout_ms}, {cfg.BackoffMin, &o.backoff_min_ms},
		{cfg.BackoffMax, &o.backoff_max_ms}, {cfg.StallTimeout, &o.stall_timeout_ms}} {
		if d.v < 0 {
			return nil, &Error{Op: "new tcp transport", Code: ErrInvalid, Detail: "negative duration"}
		}
		if d.v > 0 {
			*d.dst = C.uint32_t(clampMS(d.v))
		}
	}
	o.seed = C.uint64_t(cfg.Seed)
	t := &TCPTransport{id: cfg.ID, listen: listen}
	level := traceLevel(cfg.Logger)
	if level > 0 {
		t.h = newHandle(cfg.Logger)
	}
	if rc := C.gocraft_tcp_create(&o, C.uintptr_t(t.h), C.int(level), &t.c); rc != 0 {
		if t.h != 0 {
			deleteHandle(t.h)
		}
		return nil, &Error{Op: "new tcp transport", Code: Errno(rc), Detail: tcpCreateDetail(rc, listen)}
	}
	return t, nil
}

func tcpCreateDetail(rc C.int, listen string) string {
	switch rc {
	case C.CRAFT_EIO:
		return "cannot listen on " + listen
	case C.CRAFT_EINVAL:
		return "bad TCPConfig (ID 0, a malformed address or an option out of range)"
	}
	return ""
}

// ID returns the server id the transport was made for.
func (t *TCPTransport) ID() uint64 { return t.id }

func (t *TCPTransport) bindTransport(c *C.gocraft_cfg, id uint64) (binding, error) {
	if id != t.id {
		return binding{}, &Error{Op: "new node", Code: ErrInvalid, Detail: "the TCP transport was made for another server id"}
	}
	release, err := t.use.acquire("the TCP transport")
	if err != nil {
		return binding{}, err
	}
	t.mu.RLock()
	rc := C.craft_tcp_transport(t.c, &c.transport)
	t.mu.RUnlock()
	if rc != 0 {
		release()
		return binding{}, codeError("new node", rc)
	}
	return binding{
		attach: func(n *C.craft_node) error {
			t.mu.RLock()
			defer t.mu.RUnlock()
			return codeError("tcp attach", C.craft_tcp_attach(t.c, n))
		},
		detach: func() {
			t.mu.RLock()
			C.craft_tcp_attach(t.c, nil)
			t.mu.RUnlock()
		},
		release: release,
	}, nil
}

// with runs fn on the C transport unless it was closed.
func (t *TCPTransport) with(fn func(c *C.craft_tcp) C.int) C.int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.c == nil {
		return C.CRAFT_ESHUTDOWN
	}
	return fn(t.c)
}

// Port returns the port listened on (the one picked for port 0); 0 once
// closed.
func (t *TCPTransport) Port() int {
	port := 0
	t.with(func(c *C.craft_tcp) C.int {
		port = int(C.craft_tcp_port(c))
		return 0
	})
	return port
}

// Addr returns "host:port" as listened on (the listen host with the
// bound port), the address to give peers.
func (t *TCPTransport) Addr() string {
	host := t.listen
	for i := len(host) - 1; i >= 0; i-- {
		if host[i] == ':' {
			host = host[:i]
			break
		}
	}
	return host + ":" + strconv.Itoa(t.Port())
}

// SetPeer overrides the address of peer id ("host:port"), taking
// precedence over the membership's; "" removes the override. Errors:
// ErrInvalid (id 0 or this server's, a malformed address), ErrTooBig,
// ErrShutdown once closed.
func (t *TCPTransport) SetPeer(id uint64, addr string) error {
	caddr := C.CString(addr)
	defer C.free(unsafe.Pointer(caddr))
	return codeError("set peer", t.with(func(c *C.craft_tcp) C.int {
		return C.craft_tcp_set_peer(c, C.uint64_t(id), caddr)
	}))
}

// Peers returns the ids of the servers the transport knows (members,
// overrides, servers that connected), in no particular order.
func (t *TCPTransport) Peers() []uint64 {
	var ids []uint64
	t.with(func(c *C.craft_tcp) C.int {
		for {
			var n C.size_t
			var p *C.uint64_t
			if len(ids) > 0 {
				p = (*C.uint64_t)(unsafe.Pointer(&ids[0]))
			}
			if rc := C.craft_tcp_peers(c, p, C.size_t(len(ids)), &n); rc != 0 {
				ids = nil
				return rc
			}
			if int(n) <= len(ids) {
				ids = ids[:n]
				return 0
			}
			ids = make([]uint64, n)
		}
	})
	return ids
}

// Metrics returns the transport's counters and gauges by name
// ("craft_tcp_bytes_out_total", "craft_tcp_connected", ...), for one
// peer, or summed over all of them with peer 0. nil once closed.
func (t *TCPTransport) Metrics(peer uint64) map[string]uint64 {
	var out map[string]uint64
	t.with(func(c *C.craft_tcp) C.int {
		out = map[string]uint64{}
		for id := C.int(1); ; id++ {
			name := C.craft_tcp_metric_name(id)
			if name == nil {
				return 0
			}
			var v C.uint64_t
			if C.craft_tcp_metric(c, C.uint64_t(peer), id, &v) == 0 {
				out[C.GoString(name)] = uint64(v)
			}
		}
	})
	return out
}

// Close closes every connection and the listener and frees the
// transport. ErrBusy while a node uses it (close the node first). A
// second Close does nothing.
func (t *TCPTransport) Close() error {
	first, err := t.use.close()
	if err != nil {
		return &Error{Op: "close tcp transport", Code: ErrBusy, Detail: "a node still uses it"}
	}
	if !first {
		return nil
	}
	t.mu.Lock()
	C.craft_tcp_free(t.c)
	t.c = nil
	t.mu.Unlock()
	if t.h != 0 {
		deleteHandle(t.h)
		t.h = 0
	}
	return nil
}
