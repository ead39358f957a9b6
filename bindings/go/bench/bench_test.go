// Package craftbench measures the Go binding's Propose throughput next to
// hashicorp raft's, in the same run, on the same machine: a 3-server
// cluster in one process, in-memory storage and transport on both sides
// (craft: MemStorage and Hub; hashicorp raft: InmemStore and
// InmemTransport), 64-byte entries, 1, 64 and 256 proposing goroutines
// on the leader. Both run with their default settings, except that
// hashicorp raft checks for a snapshot every second (see
// newHashicorpCluster). It is a separate module so that the binding itself has
// no dependency on hashicorp raft.
//
//	make go-bench     (or: go test -run '^$' -bench . in this directory,
//	                   with PKG_CONFIG_PATH/LD_LIBRARY_PATH at libcraft)
package craftbench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"craft"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

var goroutineCounts = []int{1, 64, 256}

const payloadBytes = 64

// run spreads b.N calls of propose over g goroutines and reports ops/s.
func run(b *testing.B, g int, propose func([]byte) error) float64 {
	payload := make([]byte, payloadBytes)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < g; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := propose(payload); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d proposals failed", f, b.N)
	}
	ops := float64(b.N) / el.Seconds()
	b.ReportMetric(ops, "ops/s")
	return ops
}

// The figures of the last round of each sub-benchmark, for the ratios.
var (
	resultsMu sync.Mutex
	results   = map[string]float64{}
)

func record(name string, ops float64) {
	resultsMu.Lock()
	results[name] = ops
	resultsMu.Unlock()
}

func BenchmarkPropose(b *testing.B) {
	b.Run("craft", func(b *testing.B) {
		c := newCraftCluster(b)
		defer c.close()
		for _, g := range goroutineCounts {
			b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
				l := c.leader(b)
				ctx := context.Background()
				record(fmt.Sprintf("craft/%d", g), run(b, g, func(p []byte) error {
					_, err := l.Propose(ctx, p)
					return err
				}))
			})
		}
	})
	b.Run("hashicorp", func(b *testing.B) {
		c := newHashicorpCluster(b)
		defer c.close()
		for _, g := range goroutineCounts {
			b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
				l := c.leader(b)
				record(fmt.Sprintf("hashicorp/%d", g), run(b, g, func(p []byte) error {
					return l.Apply(p, 10*time.Second).Error()
				}))
			})
		}
	})
	resultsMu.Lock()
	defer resultsMu.Unlock()
	for _, g := range goroutineCounts {
		cr, hc := results[fmt.Sprintf("craft/%d", g)], results[fmt.Sprintf("hashicorp/%d", g)]
		if hc > 0 {
			// Printed, not logged: a parent benchmark's log is not shown.
			fmt.Printf("ratio goroutines=%-3d craft %9.0f ops/s  hashicorp raft %9.0f ops/s  %.2fx\n", g, cr, hc, cr/hc)
		}
	}
}

// ---- craft ------------------------------------------------------------

type countFSM struct{ n uint64 }

func (f *countFSM) Apply(index, term uint64, data []byte) ([]byte, error) {
	f.n++
	return nil, nil
}
func (f *countFSM) Snapshot(w io.Writer) error {
	_, err := fmt.Fprintf(w, "%d", f.n)
	return err
}
func (f *countFSM) Restore(r io.Reader) error {
	_, err := fmt.Fscan(r, &f.n)
	return err
}

type craftCluster struct {
	hub    *craft.Hub
	nodes  []*craft.Node
	stores []*craft.MemStorage
}

func newCraftCluster(b *testing.B) *craftCluster {
	c := &craftCluster{hub: craft.NewHub()}
	ids := []uint64{1, 2, 3}
	for _, id := range ids {
		st := craft.NewMemStorage()
		n, err := craft.NewNode(craft.Config{ID: id, Storage: st, Transport: c.hub,
			FSM: &countFSM{}, Bootstrap: ids})
		if err != nil {
			b.Fatal(err)
		}
		c.nodes = append(c.nodes, n)
		c.stores = append(c.stores, st)
	}
	return c
}

func (c *craftCluster) leader(b *testing.B) *craft.Node {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		for _, n := range c.nodes {
			if n.IsLeader() {
				return n
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatal("craft: no leader")
	return nil
}

func (c *craftCluster) close() {
	for _, n := range c.nodes {
		n.Close()
	}
	for _, s := range c.stores {
		s.Close()
	}
	c.hub.Close()
}

// ---- hashicorp raft -----------------------------------------------------

type hcFSM struct{ n uint64 }

func (f *hcFSM) Apply(*raft.Log) interface{} { f.n++; return nil }
func (f *hcFSM) Snapshot() (raft.FSMSnapshot, error) {
	return &hcSnap{n: f.n}, nil
}
func (f *hcFSM) Restore(r io.ReadCloser) error {
	defer r.Close()
	_, err := fmt.Fscan(r, &f.n)
	return err
}

type hcSnap struct{ n uint64 }

func (s *hcSnap) Persist(sink raft.SnapshotSink) error {
	if _, err := fmt.Fprintf(sink, "%d", s.n); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}
func (s *hcSnap) Release() {}

type hashicorpCluster struct{ rafts []*raft.Raft }

func newHashicorpCluster(b *testing.B) *hashicorpCluster {
	type server struct {
		id    raft.ServerID
		addr  raft.ServerAddress
		trans *raft.InmemTransport
	}
	var servers []server
	for i := 1; i <= 3; i++ {
		addr, trans := raft.NewInmemTransport(raft.ServerAddress(fmt.Sprintf("s%d", i)))
		servers = append(servers, server{raft.ServerID(fmt.Sprint(i)), addr, trans})
	}
	var conf raft.Configuration
	for _, s := range servers {
		for _, o := range servers {
			if s.addr != o.addr {
				s.trans.Connect(o.addr, o.trans)
			}
		}
		conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: s.id, Address: s.addr})
	}
	c := &hashicorpCluster{}
	for _, s := range servers {
		cfg := raft.DefaultConfig()
		cfg.LocalID = s.id
		cfg.Logger = hclog.NewNullLogger()
		// Check for a snapshot every second instead of every two minutes,
		// so that hashicorp raft compacts its log (at its default
		// threshold of 8192 entries) as craft does (by default every 8192
		// entries): otherwise its in-memory log grows through the run.
		cfg.SnapshotInterval = time.Second
		store := raft.NewInmemStore()
		r, err := raft.NewRaft(cfg, &hcFSM{}, store, store, raft.NewInmemSnapshotStore(), s.trans)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.BootstrapCluster(conf).Error(); err != nil {
			b.Fatal(err)
		}
		c.rafts = append(c.rafts, r)
	}
	return c
}

func (c *hashicorpCluster) leader(b *testing.B) *raft.Raft {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range c.rafts {
			if r.State() == raft.Leader {
				return r
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatal("hashicorp raft: no leader")
	return nil
}

func (c *hashicorpCluster) close() {
	for _, r := range c.rafts {
		r.Shutdown().Error()
	}
}
