// Command kv is a replicated key-value map over craft with a tiny HTTP
// API (see server in kv.go): three replicas, each a process with its own
// data directory (craft's file storage) talking Raft over craft's TCP
// transport.
//
//	kv -id 1 -dir /tmp/kv/1 &
//	kv -id 2 -dir /tmp/kv/2 &
//	kv -id 3 -dir /tmp/kv/3 &
//	curl -L -X PUT --data-binary hello http://127.0.0.1:8001/kv/greeting
//	curl http://127.0.0.1:8002/kv/greeting
//
// -raft and -http give every replica's addresses (the defaults are
// 127.0.0.1:7001-7003 and :8001-8003). A replica killed and started again
// with the same -dir recovers its state from disk and catches up.
//
// With -inproc, the three replicas run in one process over craft's
// in-process hub and memory storage instead.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"craft"
)

func main() {
	id := flag.Uint64("id", 0, "this replica's id (1, 2 or 3)")
	dir := flag.String("dir", "", "data directory (default kv-data/<id>)")
	raftAddrs := flag.String("raft", "1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003", "Raft (TCP) address of every replica")
	httpAddrs := flag.String("http", "1=127.0.0.1:8001,2=127.0.0.1:8002,3=127.0.0.1:8003", "HTTP address of every replica")
	inproc := flag.Bool("inproc", false, "run the 3 replicas in this process (hub + memory storage)")
	verbose := flag.Bool("v", false, "log craft's trace events")
	flag.Parse()
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	httpFor, err := parseAddrs(*httpAddrs)
	if err != nil {
		fail(err)
	}
	var stop func()
	if *inproc {
		c, err := startInProcess(httpFor, log)
		if err != nil {
			fail(err)
		}
		for i, a := range c.addrs {
			fmt.Printf("replica %d: http://%s\n", i+1, a)
		}
		stop = c.close
	} else {
		raftFor, err := parseAddrs(*raftAddrs)
		if err != nil {
			fail(err)
		}
		if *dir == "" {
			*dir = fmt.Sprintf("kv-data/%d", *id)
		}
		r, err := startReplica(*id, *dir, raftFor, httpFor, log)
		if err != nil {
			fail(err)
		}
		fmt.Printf("replica %d: http://%s raft %s data %s\n", *id, httpFor[*id], raftFor[*id], *dir)
		stop = r.close
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	stop()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kv:", err)
	os.Exit(1)
}

// parseAddrs reads "1=host:port,2=host:port,...".
func parseAddrs(s string) (map[uint64]string, error) {
	m := map[uint64]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		id, err := strconv.ParseUint(k, 10, 64)
		if !ok || err != nil || id == 0 || v == "" {
			return nil, fmt.Errorf("bad address %q: want id=host:port", kv)
		}
		m[id] = v
	}
	return m, nil
}

func ids(m map[uint64]string) []uint64 {
	var out []uint64
	for id := range m {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// clusterID names this example's clusters: the TCP handshake refuses a
// server of another cluster that happens to reach the port.
const clusterID = 0x6b76

// replica is one process of the TCP + file storage cluster.
type replica struct {
	node  *craft.Node
	store *craft.FileStorage
	tr    *craft.TCPTransport
	srv   *http.Server
}

func startReplica(id uint64, dir string, raftFor, httpFor map[uint64]string, log *slog.Logger) (*replica, error) {
	if raftFor[id] == "" || httpFor[id] == "" {
		return nil, fmt.Errorf("replica %d has no address in -raft or -http", id)
	}
	r := &replica{}
	var err error
	if r.store, err = craft.OpenFileStorage(dir, &craft.FileStorageOptions{ClusterID: clusterID, NodeID: id, Logger: log}); err != nil {
		return nil, err
	}
	// craft's TCP transport: it listens now and learns the peers'
	// addresses from the membership (Addrs below, stored in the log, so
	// a restart finds them in the directory).
	if r.tr, err = craft.NewTCPTransport(craft.TCPConfig{ID: id, ClusterID: clusterID,
		Listen: raftFor[id], Logger: log}); err != nil {
		r.close()
		return nil, err
	}
	ln, err := net.Listen("tcp", httpFor[id])
	if err != nil {
		r.close()
		return nil, err
	}
	fsm := newStore()
	// Bootstrap is ignored when the directory holds state (a restart).
	r.node, err = craft.NewNode(craft.Config{ID: id, Storage: r.store, Transport: r.tr,
		FSM: fsm, Bootstrap: ids(raftFor), Addrs: raftFor, Logger: log, WaitLeader: true})
	if err != nil {
		ln.Close()
		r.close()
		return nil, err
	}
	r.srv = &http.Server{Handler: &server{node: r.node, fsm: fsm, httpFor: httpFor, timeout: 5 * time.Second, log: log},
		ReadHeaderTimeout: 5 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

func (r *replica) close() {
	if r.srv != nil {
		r.srv.Close()
	}
	if r.node != nil {
		r.node.Close()
	}
	if r.tr != nil {
		r.tr.Close()
	}
	if r.store != nil {
		r.store.Close()
	}
}

// cluster is the in-process mode: 3 replicas, each with an HTTP server.
type cluster struct {
	hub     *craft.Hub
	nodes   []*craft.Node
	stores  []*craft.MemStorage
	servers []*http.Server
	addrs   []string // the HTTP addresses actually listened on
}

func startInProcess(httpAddrs map[uint64]string, log *slog.Logger) (*cluster, error) {
	all := ids(httpAddrs)
	if len(all) != 3 {
		return nil, fmt.Errorf("want 3 HTTP addresses, got %d", len(all))
	}
	c := &cluster{hub: craft.NewHub()}
	var lns []net.Listener
	httpFor := map[uint64]string{}
	for _, id := range all {
		ln, err := net.Listen("tcp", httpAddrs[id])
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			c.close()
			return nil, err
		}
		lns = append(lns, ln)
		c.addrs = append(c.addrs, ln.Addr().String())
		httpFor[id] = ln.Addr().String()
	}
	for i, id := range all {
		fsm := newStore()
		st := craft.NewMemStorage()
		c.stores = append(c.stores, st)
		n, err := craft.NewNode(craft.Config{ID: id, Storage: st, Transport: c.hub, FSM: fsm,
			Bootstrap: all, Logger: log.With("replica", id), WaitLeader: true})
		if err != nil {
			for _, ln := range lns[i:] {
				ln.Close()
			}
			c.close()
			return nil, err
		}
		c.nodes = append(c.nodes, n)
		srv := &http.Server{Handler: &server{node: n, fsm: fsm, httpFor: httpFor, timeout: 5 * time.Second, log: log},
			ReadHeaderTimeout: 5 * time.Second}
		c.servers = append(c.servers, srv)
		go srv.Serve(lns[i])
	}
	return c, nil
}

func (c *cluster) close() {
	for _, s := range c.servers {
		s.Close()
	}
	for _, n := range c.nodes {
		n.Close()
	}
	for _, s := range c.stores {
		s.Close()
	}
	c.hub.Close()
}
