package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yamlTypes are the Go types the accounts file decodes into, by the name
// the YAML decoder gives them in its errors.
var yamlTypes = []reflect.Type{reflect.TypeOf(accountsDoc{}), reflect.TypeOf(accountYAML{})}

var (
	yamlSyntax  = regexp.MustCompile(`^line (\d+): (.+)$`)
	yamlCannot  = regexp.MustCompile("^line (\\d+): cannot unmarshal (!!\\w+)(?: `(.*)`)? into (.+)$")
	yamlUnknown = regexp.MustCompile(`^line (\d+): field (.+) not found in type (.+)$`)
)

// describeYAMLError rewrites a YAML decoding error of the accounts file for
// the person who wrote the file: the key and the line, what was expected,
// no Go type names, no "yaml:" prefix. data is the file, to find the key
// of a line.
func describeYAMLError(data []byte, err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return syntaxErrorAt(data, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	keys := keysByLine(data)
	parts := make([]string, 0, len(te.Errors))
	for _, e := range te.Errors {
		parts = append(parts, describeTypeError(e, keys))
	}
	return strings.Join(parts, "; ")
}

func describeTypeError(e string, keys map[int]string) string {
	if m := yamlUnknown.FindStringSubmatch(e); m != nil {
		known := knownKeys(m[3])
		if len(known) == 0 {
			return fmt.Sprintf("line %s: unknown key %q", m[1], m[2])
		}
		return fmt.Sprintf("line %s: unknown key %q (known: %s)", m[1], m[2], strings.Join(known, ", "))
	}
	m := yamlCannot.FindStringSubmatch(e)
	if m == nil {
		return e
	}
	line, _ := strconv.Atoi(m[1])
	where := "line " + m[1]
	key := keys[line]
	if key != "" {
		where += ": " + key
	}
	got := yamlKind(m[2])
	if m[3] != "" && key != "password" {
		got += " " + strconv.Quote(m[3])
	}
	return fmt.Sprintf("%s: want %s, not %s", where, goKind(m[4]), got)
}

// syntaxErrorAt corrects the line of a YAML syntax error. For a block
// that breaks off (a key or a list item indented wrongly) the parser names
// the line where the enclosing block began, often line 1, not the line
// that broke it. The line reported is the first one at which the file,
// read only up to there, no longer parses: found by bisection from the
// parser's line, so a file costs a few dozen parses (none above
// maxLineSearch, where the parser's line is kept). A beginning counts as
// failing only with the message the whole file failed with: one that
// cuts a multi-line flow list or quoted text in two fails otherwise, and
// must not move the line there.
func syntaxErrorAt(data []byte, msg string) string {
	m := yamlSyntax.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	reported, _ := strconv.Atoi(m[1])
	if len(data) > maxLineSearch {
		return msg
	}
	ends := lineEnds(data)
	fails := func(k int) bool { // the first k lines fail as the whole file does
		var n yaml.Node
		err := yaml.Unmarshal(data[:ends[k-1]], &n)
		return err != nil && strings.HasSuffix(err.Error(), ": "+m[2])
	}
	lo, hi := max(reported, 1), len(ends) // the first failing prefix is in [lo, hi]
	if lo > hi || !fails(hi) {
		return msg
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if lo == reported { // the parser named the line that broke it
		return msg
	}
	return fmt.Sprintf("line %d: %s (is the line indented as the lines before it?)", lo, m[2])
}

// maxLineSearch is the largest file whose syntax error line is searched
// for: each step of the search parses up to the whole file again (an
// 8 MiB file took 10 s).
const maxLineSearch = 1 << 20

// lineEnds returns the offset just past each line of data.
func lineEnds(data []byte) []int {
	var ends []int
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		ends = append(ends, len(data))
	}
	return ends
}

// keysByLine maps the line of each mapping value to its key.
func keysByLine(data []byte) map[int]string {
	out := map[int]string{}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return out
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				out[n.Content[i+1].Line] = n.Content[i].Value
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
	return out
}

// knownKeys lists the YAML keys of the Go type the decoder named.
func knownKeys(typeName string) []string {
	for _, t := range yamlTypes {
		if t.String() != typeName {
			continue
		}
		var keys []string
		for i := range t.NumField() {
			if k, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); k != "" && k != "-" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		return keys
	}
	return nil
}

func yamlKind(tag string) string {
	switch tag {
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	case "!!str":
		return "text"
	case "!!int":
		return "a whole number"
	case "!!float":
		return "a number"
	case "!!bool":
		return "true or false"
	case "!!null":
		return "nothing"
	}
	return strings.TrimPrefix(tag, "!!")
}

func goKind(t string) string {
	switch {
	case t == "string":
		return "text"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a mapping"
	}
	if strings.Contains(t, ".") {
		return "a mapping" // a struct
	}
	return t
}

// checkAccountValues finds what the decoder lets pass but the file's
// writer cannot have meant: a whole-number key given a fraction (the
// decoder truncates max_binds: 2.9 to 2) and an allowed_networks list
// left empty (which would read as "nobody" but, absent, means any
// address). It returns "" or the first such value, by line and key.
func checkAccountValues(data []byte) string {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return ""
	}
	msg := ""
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if msg != "" {
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content) && msg == ""; i += 2 {
				k, v := n.Content[i].Value, n.Content[i+1]
				switch {
				case (k == "max_binds" || k == "max_pending_receipts") && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!float":
					msg = fmt.Sprintf("line %d: %s: want a whole number, not %s %q", v.Line, k, yamlKind(v.ShortTag()), v.Value)
				case k == "allowed_networks" && ((v.Kind == yaml.SequenceNode && len(v.Content) == 0) || v.ShortTag() == "!!null"):
					msg = fmt.Sprintf("line %d: allowed_networks: the list is empty: leave the key out to allow any address, or list the networks that may bind", v.Line)
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
	return msg
}
