package craft

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"
)

// tcpCluster is n nodes, each with its own TCPTransport on 127.0.0.1 and
// a FileStorage under dir: the deployment shape, in one process.
type tcpCluster struct {
	*cluster
	trs   map[uint64]*TCPTransport
	addrs map[uint64]string
	rec   *recorder
}

func newTCPCluster(t *testing.T, n int) *tcpCluster {
	t.Helper()
	tc := &tcpCluster{trs: map[uint64]*TCPTransport{}, addrs: map[uint64]string{}, rec: &recorder{}}
	for id := uint64(1); id <= uint64(n); id++ {
		tc.newTransport(t, id, "127.0.0.1:0")
	}
	tc.cluster = newClusterIn(t, t.TempDir(), n, func(cfg *Config) {
		cfg.Transport = tc.trs[cfg.ID]
		cfg.Addrs = tc.addrs
		cfg.WaitLeader = true
	})
	// Registered after newClusterIn's: runs before it (LIFO), closing the
	// nodes first, then the transports.
	t.Cleanup(func() {
		for id := range tc.nodes {
			tc.stop(id)
		}
		for _, tr := range tc.trs {
			if err := tr.Close(); err != nil {
				t.Errorf("close transport: %v", err)
			}
		}
	})
	return tc
}

func (tc *tcpCluster) newTransport(t *testing.T, id uint64, listen string) {
	t.Helper()
	var err error
	tc.trs[id], err = NewTCPTransport(TCPConfig{ID: id, ClusterID: 7, Listen: listen,
		BackoffMax: 200 * time.Millisecond, Logger: slog.New(tc.rec)})
	if err != nil {
		t.Fatalf("NewTCPTransport(%d): %v", id, err)
	}
	tc.addrs[id] = tc.trs[id].Addr()
}

func TestTCPCluster(t *testing.T) {
	tc := newTCPCluster(t, 3)
	for id, tr := range tc.trs {
		if tr.Port() == 0 || tr.ID() != id || tr.Addr() != fmt.Sprintf("127.0.0.1:%d", tr.Port()) {
			t.Fatalf("transport %d: port %d addr %q", id, tr.Port(), tr.Addr())
		}
	}
	var last Result
	for i := 0; i < 200; i++ {
		last = tc.propose(fmt.Sprintf("set %s %d", key(i), i))
	}
	tc.converge(last.Index)
	tc.sameState()
	l := tc.leader()
	ctx := ctxT(t, 10*time.Second)
	for _, n := range tc.nodes {
		if err := n.Read(ctx, func() error { return nil }); err != nil {
			t.Fatalf("read on %d: %v", n.ID(), err)
		}
	}
	m := tc.trs[l.ID()].Metrics(0)
	if m["craft_tcp_frames_out_total"] == 0 || m["craft_tcp_bytes_in_total"] == 0 {
		t.Fatalf("leader's transport metrics: %v", m)
	}
	for _, p := range []uint64{1, 2, 3} {
		if p == l.ID() {
			continue
		}
		if got := tc.trs[l.ID()].Metrics(p)["craft_tcp_connected"]; got != 1 {
			t.Fatalf("leader connected to %d: %d", p, got)
		}
	}
	peers := tc.trs[l.ID()].Peers()
	if len(peers) != 2 {
		t.Fatalf("leader's transport knows %v", peers)
	}
	if _, ok := tc.rec.find("transport.connected"); !ok {
		t.Fatal("no transport.connected trace event")
	}

	// Leader loss: close the leader's node and transport; the others
	// elect a new leader and take writes.
	old := l.ID()
	tc.stop(old)
	if err := tc.trs[old].Close(); err != nil {
		t.Fatal(err)
	}
	if tc.trs[old].Port() != 0 || tc.trs[old].Metrics(0) != nil {
		t.Fatal("a closed transport still answers")
	}
	if err := tc.trs[old].SetPeer(2, "127.0.0.1:1"); !errors.Is(err, ErrShutdown) {
		t.Fatalf("SetPeer after Close: %v", err)
	}
	res := tc.propose("set after loss 1")
	// Restart it from its directory on the same address: it catches up.
	tc.newTransport(t, old, tc.addrs[old])
	tc.start(old, tc.ids)
	tc.converge(res.Index)
	tc.sameState()
}

func TestTCPTransportErrors(t *testing.T) {
	if _, err := NewTCPTransport(TCPConfig{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ID 0: %v", err)
	}
	if _, err := NewTCPTransport(TCPConfig{ID: 1, Listen: "no port"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad listen address: %v", err)
	}
	if _, err := NewTCPTransport(TCPConfig{ID: 1, BackoffMin: -time.Second}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative duration: %v", err)
	}
	a, err := NewTCPTransport(TCPConfig{ID: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := NewTCPTransport(TCPConfig{ID: 2, Listen: a.Addr()}); !errors.Is(err, ErrIO) {
		t.Fatalf("address in use: %v", err)
	}
	if err := a.SetPeer(1, "127.0.0.1:9"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("SetPeer(own id): %v", err)
	}
	if err := a.SetPeer(2, "127.0.0.1:9"); err != nil {
		t.Fatal(err)
	}
	if !contains(a.Peers(), 2) {
		t.Fatalf("peers %v", a.Peers())
	}
	if err := a.SetPeer(2, ""); err != nil {
		t.Fatal(err)
	}
	// One node per transport, under the id it was made for.
	ms, ms2 := NewMemStorage(), NewMemStorage()
	defer ms.Close()
	defer ms2.Close()
	cfg := Config{ID: 2, Storage: ms, Transport: a, FSM: newKV()}
	if _, err := NewNode(cfg); !errors.Is(err, ErrInvalid) {
		t.Fatalf("node 2 on node 1's transport: %v", err)
	}
	cfg.ID = 1
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewNode(Config{ID: 1, Storage: ms2, Transport: a, FSM: newKV()}); !errors.Is(err, ErrBusy) {
		t.Fatalf("a second node on the transport: %v", err)
	}
	if err := a.Close(); !errors.Is(err, ErrBusy) {
		t.Fatalf("Close while a node uses it: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := NewNode(cfg); !errors.Is(err, ErrShutdown) {
		t.Fatalf("NewNode on a closed transport: %v", err)
	}
}
