package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"craft"
)

// store is the replicated map: the FSM. Commands are JSON; craft calls
// Apply, Snapshot and Restore on its apply thread, one at a time, and runs
// Read functions in order with them, so the map needs no lock against
// craft. The lock is for Keys, read by the HTTP handlers' goroutines
// outside a Read (status pages).
type store struct {
	mu sync.Mutex
	m  map[string]string
}

type command struct {
	Op    string `json:"op"` // "set" or "delete"
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

func newStore() *store { return &store{m: map[string]string{}} }

func (s *store) Apply(index, term uint64, data []byte) ([]byte, error) {
	var c command
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("bad command at %d: %w", index, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.m[c.Key]
	switch c.Op {
	case "set":
		s.m[c.Key] = c.Value
	case "delete":
		delete(s.m, c.Key)
	default:
		return nil, fmt.Errorf("unknown op %q", c.Op)
	}
	return []byte(old), nil
}

func (s *store) Snapshot(w io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return json.NewEncoder(w).Encode(s.m)
}

func (s *store) Restore(r io.Reader) error {
	m := map[string]string{}
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return err
	}
	s.mu.Lock()
	s.m = m
	s.mu.Unlock()
	return nil
}

// server is one replica's HTTP API:
//
//	GET    /kv/KEY    linearizable read (any replica)
//	PUT    /kv/KEY    body = value; on a follower: 307 to the leader
//	DELETE /kv/KEY
//	GET    /status    the node's status as JSON
type server struct {
	node    *craft.Node
	fsm     *store
	httpFor map[uint64]string // replica id -> its HTTP address, for redirects
	timeout time.Duration
	log     *slog.Logger
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	if r.URL.Path == "/status" {
		st, err := s.node.Status()
		if err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(st)
		return
	}
	key, ok := strings.CutPrefix(r.URL.Path, "/kv/")
	if !ok || key == "" {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
		var val string
		var found bool
		err := s.node.Read(ctx, func() error {
			val, found = s.fsm.m[key]
			return nil
		})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !found {
			http.Error(w, "no such key", http.StatusNotFound)
			return
		}
		io.WriteString(w, val)
	case http.MethodPut, http.MethodDelete:
		c := command{Op: "delete", Key: key}
		if r.Method == http.MethodPut {
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			c = command{Op: "set", Key: key, Value: string(body)}
		}
		data, _ := json.Marshal(c)
		res, err := s.node.Propose(ctx, data)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("X-Craft-Index", fmt.Sprint(res.Index))
		w.Write(res.Data) // the previous value
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// fail maps craft's errors to HTTP: a follower redirects writes to the
// leader; a timeout is 504; the rest 503.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var nl *craft.NotLeaderError
	switch {
	case errors.As(err, &nl):
		if addr := s.httpFor[nl.Leader]; addr != "" {
			http.Redirect(w, r, "http://"+addr+r.URL.Path, http.StatusTemporaryRedirect)
			return
		}
		http.Error(w, "no leader known yet, retry", http.StatusServiceUnavailable)
	case errors.Is(err, craft.ErrTimeout):
		http.Error(w, err.Error(), http.StatusGatewayTimeout)
	default:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	}
}
