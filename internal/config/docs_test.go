package config

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const (
	tableStart = "<!-- config-table:start -->"
	tableEnd   = "<!-- config-table:end -->"
)

// readKeys returns every variable name Load passes to getenv, in order.
func readKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	getenv := env()
	_, err := Load(func(k string) string { keys = append(keys, k); return getenv(k) })
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return keys
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// docRow is one row of the documented configuration table.
type docRow struct {
	name, def string
}

// documentedTable reads the table between the markers from README.md when
// it has them, else from docs/configuration.md.
func documentedTable(t *testing.T) (string, []docRow) {
	t.Helper()
	root := repoRoot(t)
	for _, name := range []string{"README.md", filepath.Join("docs", "configuration.md")} {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			continue
		}
		text := string(data)
		start, end := strings.Index(text, tableStart), strings.Index(text, tableEnd)
		if start < 0 || end < start {
			continue
		}
		return name, parseTable(t, name, text[start+len(tableStart):end])
	}
	t.Fatal("no configuration table between the markers in README.md or docs/configuration.md")
	return "", nil
}

var backticked = regexp.MustCompile("^`([^`]*)`$")

func parseTable(t *testing.T, file, table string) []docRow {
	t.Helper()
	var rows []docRow
	sc := bufio.NewScanner(strings.NewReader(table))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 3 {
			t.Fatalf("%s: table row with fewer than 3 cells: %s", file, line)
		}
		first := strings.TrimSpace(cells[0])
		m := backticked.FindStringSubmatch(first)
		if m == nil {
			continue // header or separator row
		}
		rows = append(rows, docRow{name: m[1], def: strings.TrimSpace(cells[1])})
	}
	return rows
}

// TestDocumentedTableMatchesCode fails when a variable Load reads is missing
// from the documented table, or the table lists one Load does not read.
func TestDocumentedTableMatchesCode(t *testing.T) {
	read := readKeys(t)
	file, rows := documentedTable(t)
	documented := make([]string, 0, len(rows))
	for _, r := range rows {
		if slices.Contains(documented, r.name) {
			t.Errorf("%s lists %s twice", file, r.name)
		}
		documented = append(documented, r.name)
	}
	for _, k := range read {
		if !slices.Contains(documented, k) {
			t.Errorf("%s: the configuration table lacks %s, which the code reads", file, k)
		}
	}
	for _, k := range documented {
		if !slices.Contains(read, k) {
			t.Errorf("%s: the configuration table lists %s, which the code does not read", file, k)
		}
	}
}

// TestDocumentedDefaults checks that a default shown in backticks is the
// code's default, and that a descriptive default (e.g. "(empty)") stands
// for an empty value in Default.
func TestDocumentedDefaults(t *testing.T) {
	def := Default()
	values := map[string]string{}
	for _, v := range variables() {
		values[v.name] = v.get(&def)
	}
	file, rows := documentedTable(t)
	for _, r := range rows {
		want, known := values[r.name]
		if !known {
			continue // reported by TestDocumentedTableMatchesCode
		}
		if m := backticked.FindStringSubmatch(r.def); m != nil {
			if m[1] != want {
				t.Errorf("%s: %s default is %q, the code's is %q", file, r.name, m[1], want)
			}
		} else if want != "" {
			t.Errorf("%s: %s default is %q, the code's is %q", file, r.name, r.def, want)
		}
	}
}

// TestEnvExampleListsEveryVariable keeps .env.example complete.
func TestEnvExampleListsEveryVariable(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	assign := regexp.MustCompile(`^#?\s*([A-Z][A-Z0-9_]*)=`)
	// The last section is docker-compose.yml's own variables.
	data, _, _ = bytes.Cut(data, []byte("# --- Docker Compose only"))
	for _, line := range strings.Split(string(data), "\n") {
		if m := assign.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			listed[m[1]] = true
		}
	}
	read := readKeys(t)
	for _, k := range read {
		if !listed[k] {
			t.Errorf(".env.example lacks %s", k)
		}
	}
	for k := range listed {
		if !slices.Contains(read, k) {
			t.Errorf(".env.example lists %s, which the code does not read", k)
		}
	}
}
