package craft

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// includeDir is the directory of the craft.h this package compiles
// against: pkg-config's, else the repository's include/.
func includeDir(t *testing.T) string {
	if out, err := exec.Command("pkg-config", "--variable=includedir", "craft").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); d != "" {
			if _, err := os.Stat(filepath.Join(d, "craft.h")); err == nil {
				return d
			}
		}
	}
	d := filepath.Join("..", "..", "include")
	if _, err := os.Stat(filepath.Join(d, "craft.h")); err != nil {
		t.Skip("no craft.h found (pkg-config craft, ../../include)")
	}
	return d
}

var apiDecl = regexp.MustCompile(`CRAFT_API\b[^;(]*?\b(craft_[a-z0-9_]+)\s*\(`)

// publicFunctions parses the CRAFT_API declarations of craft.h and
// craft/*.h.
func publicFunctions(t *testing.T, dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "craft", "*.h"))
	files = append(files, filepath.Join(dir, "craft.h"))
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Declarations may span lines: join them.
		text := strings.Join(strings.Fields(string(b)), " ")
		for _, m := range apiDecl.FindAllStringSubmatch(text, -1) {
			seen[m[1]] = true
		}
	}
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func TestBindingCoverage(t *testing.T) {
	api := publicFunctions(t, includeDir(t))
	if len(api) < 50 {
		t.Fatalf("parsed only %d CRAFT_API functions", len(api))
	}
	// What the binding calls: craft_* identifiers in its non-test Go and
	// C files.
	called := map[string]bool{}
	ident := regexp.MustCompile(`\bcraft_[a-z0-9_]+\b`)
	srcs, _ := filepath.Glob("*.go")
	cs, _ := filepath.Glob("*.c")
	for _, f := range append(srcs, cs...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ident.FindAllString(string(b), -1) {
			called[m] = true
		}
	}
	// The documented skip list.
	f, err := os.Open("unbound.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type skip struct {
		pattern string
		used    bool
	}
	var skips []*skip
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			t.Fatalf("unbound.txt: %q has no reason", line)
		}
		skips = append(skips, &skip{pattern: fields[0]})
	}
	var missing []string
	for _, fn := range api {
		var sk *skip
		for _, s := range skips {
			if ok, _ := filepath.Match(s.pattern, fn); ok {
				sk = s
			}
		}
		switch {
		case called[fn] && sk != nil && sk.pattern == fn:
			t.Errorf("%s is bound but also listed in unbound.txt", fn)
		case called[fn]:
		case sk != nil:
			sk.used = true // a glob may also match bound functions
		default:
			missing = append(missing, fn)
		}
	}
	for _, s := range skips {
		if !s.used {
			t.Errorf("unbound.txt: %s matches no unbound public function", s.pattern)
		}
	}
	if len(missing) > 0 {
		t.Errorf("public C functions neither bound nor in unbound.txt:\n  %s", strings.Join(missing, "\n  "))
	}
	t.Logf("%d public functions: %d bound", len(api), len(api)-countSkipped(api, called))
}

func countSkipped(api []string, called map[string]bool) int {
	n := 0
	for _, fn := range api {
		if !called[fn] {
			n++
		}
	}
	return n
}
