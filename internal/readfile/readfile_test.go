//go:build unix

package readfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/smpp-hlr-gateway/gateway/internal/readfile"
)

func TestRegular(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.yaml")
	if err := os.WriteFile(small, []byte("accounts: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, 101), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(small, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       error // nil: read
	}{
		{"small file", small, nil},
		{"symbolic link to a file", link, nil},
		{"over the bound", big, readfile.ErrTooLarge},
		{"FIFO without a writer", fifo, readfile.ErrNotRegular},
		{"directory", dir, readfile.ErrNotRegular},
		{"device", "/dev/zero", readfile.ErrNotRegular},
		{"missing", filepath.Join(dir, "none"), os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := readfile.Regular(tt.path, 100)
			if tt.want == nil {
				if err != nil || string(data) != "accounts: []\n" {
					t.Fatalf("Regular = %q, %v", data, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Regular = %v, want %v", err, tt.want)
			}
		})
	}
}
