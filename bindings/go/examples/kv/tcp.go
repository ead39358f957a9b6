package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"craft"
)

// tcpTransport is a transport written in Go (craft.TransportBackend):
// one outgoing connection per peer, fed by a bounded queue that Send
// never blocks on, and a listener whose connections hand each incoming
// message to the node. Frames are a 4-byte little-endian length, then
// craft's message bytes (which name their sender).
type tcpTransport struct {
	addrs  map[uint64]string // peer id -> raft address
	ln     net.Listener
	node   atomic.Pointer[craft.Node]
	mu     sync.Mutex
	peers  map[uint64]chan []byte
	conns  map[net.Conn]bool
	closed chan struct{}
	wg     sync.WaitGroup
}

const (
	peerQueue    = 4096
	maxFrame     = 256 << 20
	redialPeriod = 100 * time.Millisecond
)

func newTCPTransport(listen string, addrs map[uint64]string) (*tcpTransport, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	t := &tcpTransport{addrs: addrs, ln: ln, peers: map[uint64]chan []byte{},
		conns: map[net.Conn]bool{}, closed: make(chan struct{})}
	t.wg.Add(1)
	go t.accept()
	return t, nil
}

// setNode names the node that receives what arrives (until then it is
// dropped, like on a network).
func (t *tcpTransport) setNode(n *craft.Node) { t.node.Store(n) }

// Send is called on craft's driver thread: it copies msg into the peer's
// queue, or says ErrBusy when the queue is full (craft keeps the message
// and retries).
func (t *tcpTransport) Send(peer uint64, msg []byte) error {
	t.mu.Lock()
	q, ok := t.peers[peer]
	if !ok {
		addr := t.addrs[peer]
		select {
		case <-t.closed:
			addr = ""
		default:
		}
		if addr == "" {
			t.mu.Unlock()
			return craft.ErrUnknownPeer
		}
		q = make(chan []byte, peerQueue)
		t.peers[peer] = q
		t.wg.Add(1)
		go t.write(addr, q)
	}
	t.mu.Unlock()
	select {
	case q <- append([]byte(nil), msg...):
		return nil
	default:
		return craft.ErrBusy
	}
}

// write keeps a connection to addr and writes the queue to it; messages
// that meet a broken connection are lost (Raft retransmits).
func (t *tcpTransport) write(addr string, q chan []byte) {
	defer t.wg.Done()
	var conn net.Conn
	var w *bufio.Writer
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	var hdr [4]byte
	for {
		var msg []byte
		select {
		case <-t.closed:
			return
		case msg = <-q:
		}
		if conn == nil {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				select {
				case <-t.closed:
					return
				case <-time.After(redialPeriod):
				}
				continue
			}
			conn, w = c, bufio.NewWriterSize(c, 64<<10)
		}
		binary.LittleEndian.PutUint32(hdr[:], uint32(len(msg)))
		w.Write(hdr[:])
		w.Write(msg)
		if len(q) == 0 { // flush once the queue is drained: one write for a burst
			if err := w.Flush(); err != nil {
				conn.Close()
				conn = nil
			}
		}
	}
}

func (t *tcpTransport) accept() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return
		}
		t.mu.Lock()
		select {
		case <-t.closed:
			t.mu.Unlock()
			c.Close()
			return
		default:
		}
		t.conns[c] = true
		t.mu.Unlock()
		t.wg.Add(1)
		go t.read(c)
	}
}

func (t *tcpTransport) read(c net.Conn) {
	defer t.wg.Done()
	defer func() {
		t.mu.Lock()
		delete(t.conns, c)
		t.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReaderSize(c, 64<<10)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := binary.LittleEndian.Uint32(hdr[:])
		if n == 0 || n > maxFrame {
			return // not a peer of ours
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(r, msg); err != nil {
			return
		}
		if node := t.node.Load(); node != nil {
			// ErrBusy: the node's inbox is full and the message is
			// dropped; Raft retransmits.
			if err := node.Receive(msg); errors.Is(err, craft.ErrShutdown) {
				return
			}
		}
	}
}

// Close stops the listener and every connection and waits for the
// goroutines. Close the node first.
func (t *tcpTransport) Close() {
	t.mu.Lock()
	close(t.closed)
	for c := range t.conns {
		c.Close()
	}
	t.mu.Unlock()
	t.ln.Close()
	t.wg.Wait()
}
