package logging

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// eventName is the shape of an event: dotted, lower-case identifiers.
var eventName = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$`)

// logMethods maps slog's logging methods to the index of their message
// (the event) among the call's arguments.
var logMethods = map[string]int{
	"Debug": 0, "Info": 0, "Warn": 0, "Error": 0,
	"DebugContext": 1, "InfoContext": 1, "WarnContext": 1, "ErrorContext": 1,
	"Log": 2, "LogAttrs": 2,
	// logging.NewRepeats(logger, event, ...)
	"NewRepeats": 1,
}

// codeEvents returns every event name the code under root can log, with
// one place it is logged from. Non-test Go files under cmd/ and internal/
// are read; an event is the string literal (or package constant) given as
// the message of a slog call, to logging.NewRepeats or
// RepeatOptions.Recovered, or assigned to a variable named event.
func codeEvents(t *testing.T, root string) map[string]string {
	t.Helper()
	events := map[string]string{}
	fset := token.NewFileSet()
	for _, dir := range []string{"cmd", "internal"} {
		pkgFiles := map[string][]*ast.File{}
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			pkgFiles[filepath.Dir(path)] = append(pkgFiles[filepath.Dir(path)], f)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, files := range pkgFiles {
			consts := stringConsts(files)
			value := func(e ast.Expr) (string, bool) {
				switch x := e.(type) {
				case *ast.BasicLit:
					if x.Kind == token.STRING {
						s, err := strconv.Unquote(x.Value)
						return s, err == nil
					}
				case *ast.Ident:
					s, ok := consts[x.Name]
					return s, ok
				}
				return "", false
			}
			add := func(e ast.Expr) {
				if s, ok := value(e); ok && eventName.MatchString(s) {
					if _, seen := events[s]; !seen {
						p := fset.Position(e.Pos())
						rel, _ := filepath.Rel(root, p.Filename)
						events[s] = rel + ":" + strconv.Itoa(p.Line)
					}
				}
			}
			for _, f := range files {
				ast.Inspect(f, func(n ast.Node) bool {
					switch x := n.(type) {
					case *ast.CallExpr:
						var name string
						switch fn := x.Fun.(type) {
						case *ast.SelectorExpr:
							name = fn.Sel.Name
						case *ast.Ident:
							name = fn.Name
						}
						if i, ok := logMethods[name]; ok && i < len(x.Args) {
							add(x.Args[i])
						}
					case *ast.KeyValueExpr:
						if k, ok := x.Key.(*ast.Ident); ok && k.Name == "Recovered" {
							add(x.Value)
						}
					case *ast.AssignStmt:
						// event := "submit.accepted"; ...; log(event)
						for i, lhs := range x.Lhs {
							if id, ok := lhs.(*ast.Ident); ok && id.Name == "event" && i < len(x.Rhs) {
								add(x.Rhs[i])
							}
						}
					}
					return true
				})
			}
		}
	}
	return events
}

// stringConsts returns the package-level string constants of files.
func stringConsts(files []*ast.File) map[string]string {
	out := map[string]string{}
	for _, f := range files {
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							if s, err := strconv.Unquote(lit.Value); err == nil {
								out[name.Name] = s
							}
						}
					}
				}
			}
		}
	}
	return out
}

// docEvents returns the event names listed in the events table of
// docs/operations.md (rows of the table after "Events, by what they are
// about").
func docEvents(t *testing.T, root string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(data), "Events, by what they are about")
	if !ok {
		t.Fatal(`docs/operations.md: no "Events, by what they are about" table`)
	}
	backticked := regexp.MustCompile("`([^`]+)`")
	out := map[string]bool{}
	started := false
	for _, line := range strings.Split(table, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if started {
				break
			}
			continue
		}
		started = true
		for _, m := range backticked.FindAllStringSubmatch(line, -1) {
			if eventName.MatchString(m[1]) {
				out[m[1]] = true
			}
		}
	}
	return out
}

// TestOperationsDocListsEveryEvent keeps docs/operations.md's events table
// and the code one: every event the code can log is listed, and every
// listed event is one the code logs.
func TestOperationsDocListsEveryEvent(t *testing.T) {
	// go test runs in the package's directory, two below the root.
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	code := codeEvents(t, root)
	doc := docEvents(t, root)
	if len(code) < 20 {
		t.Fatalf("found only %d events in the code: the scan is broken", len(code))
	}
	var missing, stale []string
	for e, where := range code {
		if !doc[e] {
			missing = append(missing, e+" (logged at "+where+")")
		}
	}
	for e := range doc {
		if _, ok := code[e]; !ok {
			stale = append(stale, e)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	for _, m := range missing {
		t.Errorf("docs/operations.md: the events table lacks %s", m)
	}
	for _, s := range stale {
		t.Errorf("docs/operations.md: the events table lists %s, which the code never logs", s)
	}
}
