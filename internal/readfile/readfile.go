package readfile

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxConfigBytes bounds a configuration file: 8 MiB holds about 80,000
// accounts or 250,000 prefix rules, and parsing it takes a few hundred MB
// for a moment (the YAML decoder's nodes), not gigabytes.
const MaxConfigBytes = 8 << 20

// ErrNotRegular is returned for a path that is not a regular file (a
// FIFO, a device, a directory), after following symbolic links.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned for a file larger than the bound.
var ErrTooLarge = errors.New("file too large")

// Regular reads the regular file at path, at most limit bytes. It opens
// the file without blocking (a FIFO would otherwise block the open until
// a writer came) and checks what it opened, not the path, so a file
// swapped after a check cannot slip through.
func Regular(path string, limit int64) ([]byte, error) {
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, fi.Mode().Type())
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: %w: %d bytes, at most %d", path, ErrTooLarge, fi.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit { // grew while read
		return nil, fmt.Errorf("%s: %w: more than %d bytes", path, ErrTooLarge, limit)
	}
	return data, nil
}

// openNonBlocking opens path for reading; on Unix with O_NONBLOCK.
func openNonBlocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|nonBlock, 0)
}
