package craft

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A bad option reaches the C library, whose message names it.
func TestNewNodeCarriesTheLibraryMessage(t *testing.T) {
	hub := NewHub()
	defer hub.Close()
	ms := NewMemStorage()
	defer ms.Close()
	_, err := NewNode(Config{ID: 1, Storage: ms, Transport: hub, FSM: newKV(), ElectionTicks: 1})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("ElectionTicks 1: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("not an *Error: %T", err)
	}
	want := "options.engine rejected: " + ErrInvalid.Error() +
		" (election_ticks < 2, heartbeat_ticks 0 or >= election_ticks, max_inflight 0 or too large," +
		" max_msg_bytes, snapshot_chunk_bytes or catchup_rounds 0, or lease_reads without check_quorum)"
	if e.Detail != want {
		t.Fatalf("detail %q, want %q", e.Detail, want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error text %q lacks the message", err.Error())
	}
	// The storage and hub are free again: the failed node released them.
	n, err := NewNode(Config{ID: 1, Storage: ms, Transport: hub, FSM: newKV()})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTraceStderrAndLoggerExclude(t *testing.T) {
	hub := NewHub()
	defer hub.Close()
	ms := NewMemStorage()
	defer ms.Close()
	_, err := NewNode(Config{ID: 1, Storage: ms, Transport: hub, FSM: newKV(),
		TraceStderr: true, Logger: slog.Default()})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Logger and TraceStderr: %v", err)
	}
}

func TestCTraceLevel(t *testing.T) {
	for lv, want := range map[slog.Level]int{
		slog.LevelDebug: 4, slog.LevelInfo: 3, slog.LevelWarn: 2, slog.LevelError: 1, slog.LevelError + 4: 1,
	} {
		if got := cTraceLevel(lv); got != want {
			t.Errorf("cTraceLevel(%v) = %d, want %d", lv, got, want)
		}
	}
}

// The child half of TestTraceStderrPrints: a one-node cluster that
// elects itself, with the C printer on (only when the parent runs it).
func TestTraceStderrChild(t *testing.T) {
	if os.Getenv("CRAFT_GO_TRACE_STDERR_CHILD") != "1" {
		t.Skip("run by TestTraceStderrPrints")
	}
	hub := NewHub()
	defer hub.Close()
	ms := NewMemStorage()
	defer ms.Close()
	cfg := Config{ID: 1, Storage: ms, Transport: hub, FSM: newKV(), Bootstrap: []uint64{1}, TraceStderr: true}
	fastConfig(&cfg)
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !n.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("no leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
}

// One line per event on stderr, as include/craft/node.h shows it; INFO
// and above by default.
func TestTraceStderrPrints(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestTraceStderrChild$", "-test.v")
	cmd.Env = append(os.Environ(), "CRAFT_GO_TRACE_STDERR_CHILD=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "--- PASS: TestTraceStderrChild") {
		t.Fatalf("the child did not run:\n%s", stdout.String())
	}
	line := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z INFO  craft\.engine leader\.elected node_id=1 term=\d+ leader=1$`)
	if !line.MatchString(stderr.String()) {
		t.Fatalf("no leader.elected line on stderr:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), " DEBUG ") {
		t.Fatalf("DEBUG lines at the default level:\n%s", stderr.String())
	}
}
