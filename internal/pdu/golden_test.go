package pdu

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden frames in testdata/")

// goldenCase is one frame kept under testdata/<dir>/<name>.hex.
type goldenCase struct {
	dir, name, note string
	frame           []byte
}

func goldenCases() []goldenCase {
	var cs []goldenCase
	for _, tc := range samples {
		cs = append(cs, goldenCase{"valid", tc.name, tc.pdu.Command.String(), Append(nil, tc.pdu)})
	}
	for _, tc := range malformed {
		cs = append(cs, goldenCase{"malformed", tc.name, fmt.Sprintf("%s: %v", tc.field, tc.status), tc.frame})
	}
	for _, tc := range unknownFrames {
		cs = append(cs, goldenCase{"malformed", tc.name, StatusInvCmdID.String(), tc.frame})
	}
	for _, tc := range lenient {
		cs = append(cs, goldenCase{"lenient", tc.name, "decodes", tc.frame})
	}
	return cs
}

// formatHex writes the header on the first line and the body 16 octets a
// line, so a diff shows which field moved.
func formatHex(note string, f []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n", note)
	fmt.Fprintf(&b, "%x %x %x %x\n", f[0:4], f[4:8], f[8:12], f[12:16])
	for body := f[HeaderLen:]; len(body) > 0; {
		n := min(16, len(body))
		fmt.Fprintf(&b, "%x\n", body[:n])
		body = body[n:]
	}
	return b.Bytes()
}

func parseHex(t testing.TB, text []byte) []byte {
	var digits strings.Builder
	for line := range strings.Lines(string(text)) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	f, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestGolden(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range goldenCases() {
		path := filepath.Join("testdata", c.dir, c.name+".hex")
		seen[path] = true
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, formatHex(c.note, c.frame), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./internal/pdu -update)", err)
		}
		if got := parseHex(t, text); !bytes.Equal(got, c.frame) {
			t.Errorf("%s: frame differs from golden\n got % x\nwant % x", path, c.frame, got)
		}
	}
	for _, tc := range samples {
		f := goldenFrame(t, "valid", tc.name)
		p, err := Decode(f)
		want := tc.pdu
		want.Length = uint32(len(f))
		if err != nil || !reflect.DeepEqual(p, want) {
			t.Errorf("%s: golden decodes to %+v, %v", tc.name, p, err)
		}
	}
	files, _ := filepath.Glob("testdata/*/*.hex")
	for _, f := range files {
		if !seen[f] {
			t.Errorf("%s is not produced by any case; delete it or add the case", f)
		}
	}
}

func goldenFrame(t testing.TB, dir, name string) []byte {
	text, err := os.ReadFile(filepath.Join("testdata", dir, name+".hex"))
	if err != nil {
		t.Fatal(err)
	}
	return parseHex(t, text)
}

// goldenFrames returns every golden frame, to seed the fuzz targets.
func goldenFrames(t testing.TB) [][]byte {
	files, err := filepath.Glob("testdata/*/*.hex")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden frames: %v", err)
	}
	var out [][]byte
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, parseHex(t, text))
	}
	return out
}
