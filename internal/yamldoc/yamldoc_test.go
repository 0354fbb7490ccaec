package yamldoc

import (
	"bytes"
	"errors"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestOnlyOne(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		several    bool
	}{
		{"one", "a: 1\n", false},
		{"opened with ---", "---\na: 1\n", false},
		{"closed with ---", "a: 1\n---\n", false},
		{"closed with ...", "a: 1\n...\n", false},
		{"an empty second", "a: 1\n---\n~\n", false},
		{"a second", "a: 1\n---\nb: 2\n", true},
		{"a second after an empty one", "a: 1\n---\n---\nb: 2\n", true},
		{"a second that does not parse", "a: 1\n---\nb: [\n", true},
	} {
		dec := yaml.NewDecoder(bytes.NewReader([]byte(tc.text)))
		var v map[string]int
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: first document: %v", tc.name, err)
		}
		if err := OnlyOne(dec); errors.Is(err, ErrSeveral) != tc.several {
			t.Errorf("%s: OnlyOne = %v, want several=%v", tc.name, err, tc.several)
		}
	}
}
