package yamldoc

import (
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// ErrSeveral is the error of a file holding a document after the first.
var ErrSeveral = errors.New("the file holds more than one YAML document (a --- line): only one is read; put everything in one")

// OnlyOne fails when dec, having decoded the file's first document, holds
// another that is not empty: a file with a "---" line would otherwise
// have every later document ignored, even one that does not parse. An
// empty document (a "---" closing the file) holds nothing to ignore.
func OnlyOne(dec *yaml.Decoder) error {
	for {
		var next yaml.Node
		switch err := dec.Decode(&next); {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return fmt.Errorf("%w; the second does not parse either: %v", ErrSeveral, err)
		case !empty(&next):
			return ErrSeveral
		}
	}
}

// empty reports whether n is a YAML document with nothing in it (a null
// scalar is what "---" alone decodes to).
func empty(n *yaml.Node) bool {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	return n.Kind == 0 || n.Kind == yaml.DocumentNode && len(n.Content) == 0 || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}
