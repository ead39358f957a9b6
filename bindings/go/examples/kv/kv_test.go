package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req) // follows the 307 to the leader
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestInProcessCluster(t *testing.T) {
	c, err := startInProcess(map[uint64]string{1: "127.0.0.1:0", 2: "127.0.0.1:0", 3: "127.0.0.1:0"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	// Writes through any replica (followers redirect to the leader).
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := do(t, "PUT", "http://"+c.addrs[2]+"/kv/greeting", "hello")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("PUT: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, a := range c.addrs {
		if code, body := do(t, "GET", "http://"+a+"/kv/greeting", ""); code != 200 || body != "hello" {
			t.Fatalf("GET on %s: %d %q", a, code, body)
		}
	}
	if code, body := do(t, "PUT", "http://"+c.addrs[0]+"/kv/greeting", "again"); code != 200 || body != "hello" {
		t.Fatalf("second PUT: %d %q (want the previous value)", code, body)
	}
	if code, _ := do(t, "DELETE", "http://"+c.addrs[1]+"/kv/greeting", ""); code != 200 {
		t.Fatalf("DELETE: %d", code)
	}
	if code, _ := do(t, "GET", "http://"+c.addrs[1]+"/kv/greeting", ""); code != 404 {
		t.Fatalf("GET after DELETE: %d", code)
	}
	if code, body := do(t, "GET", "http://"+c.addrs[0]+"/status", ""); code != 200 || !strings.Contains(body, "CommitIndex") {
		t.Fatalf("status: %d %s", code, body)
	}
}

// freeAddrs returns n loopback addresses that were free a moment ago.
func freeAddrs(t *testing.T, n int) []string {
	var out []string
	var lns []net.Listener
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// TestThreeProcesses builds the command, runs three replicas as processes
// over TCP with file storage, kills the leader with SIGKILL and starts it
// again from its directory.
func TestThreeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs processes")
	}
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	bin := filepath.Join(t.TempDir(), "kv")
	if out, err := exec.Command(goCmd, "build", "-buildvcs=false", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addrs := freeAddrs(t, 6)
	raft := fmt.Sprintf("1=%s,2=%s,3=%s", addrs[0], addrs[1], addrs[2])
	httpList := fmt.Sprintf("1=%s,2=%s,3=%s", addrs[3], addrs[4], addrs[5])
	data := t.TempDir()
	procs := map[int]*exec.Cmd{}
	start := func(id int) {
		cmd := exec.Command(bin, "-id", fmt.Sprint(id), "-dir", filepath.Join(data, fmt.Sprint(id)),
			"-raft", raft, "-http", httpList)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[id] = cmd
	}
	kill := func(id int) {
		procs[id].Process.Kill()
		procs[id].Wait()
		delete(procs, id)
	}
	defer func() {
		for id := range procs {
			kill(id)
		}
	}()
	for id := 1; id <= 3; id++ {
		start(id)
	}
	url := func(id int, path string) string { return "http://" + addrs[2+id] + path }
	retry := func(method string, id int, path, body string, want int) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, got := tryDo(method, url(id, path), body)
			if code == want {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s %s: %d %q", method, url(id, path), code, got)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	retry("PUT", 1, "/kv/a", "1", 200)
	for id := 1; id <= 3; id++ {
		if got := retry("GET", id, "/kv/a", "", 200); got != "1" {
			t.Fatalf("GET a on %d: %q", id, got)
		}
	}
	// Kill the leader; the other two elect another and take writes.
	var st struct{ Leader uint64 }
	if err := json.Unmarshal([]byte(retry("GET", 1, "/status", "", 200)), &st); err != nil || st.Leader == 0 {
		t.Fatalf("status: %v %+v", err, st)
	}
	leader := int(st.Leader)
	kill(leader)
	other := leader%3 + 1
	retry("PUT", other, "/kv/b", "2", 200)
	// The killed replica recovers from its directory and catches up.
	start(leader)
	if got := retry("GET", leader, "/kv/b", "", 200); got != "2" {
		t.Fatalf("GET b on restarted %d: %q", leader, got)
	}
	if got := retry("GET", leader, "/kv/a", "", 200); got != "1" {
		t.Fatalf("GET a on restarted %d: %q", leader, got)
	}
}

func tryDo(method, url, body string) (int, string) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
