package tmt_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr/tmt"
)

// TestRedactionIsWhereSecretsAre: the key and secret are masked where they
// travel (the URL path), a password inside HLR_BASE_URL is masked, and
// nothing else is touched: a one-letter secret used to turn "refused"
// into "refu***ed".
func TestRedactionIsWhereSecretsAre(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	var logs bytes.Buffer
	c, err := tmt.New(tmt.Options{
		BaseURL: "http://user:hunter2pw@" + addr + "/live/json", APIKey: "k", APISecret: "s",
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Lookup(context.Background(), "40722570240")
	if err == nil {
		t.Fatal("lookup against a closed port succeeded")
	}
	all := err.Error() + "\n" + logs.String()
	for _, want := range []string{"refused", "user:xxxxx@" + addr + "/live/json/***/***/40722570240"} {
		if !strings.Contains(all, want) {
			t.Errorf("%q missing from:\n%s", want, all)
		}
	}
	for _, leak := range []string{"hunter2pw", "/k/s/", "***ed"} {
		if strings.Contains(all, leak) {
			t.Errorf("%q in:\n%s", leak, all)
		}
	}
	if got := c.RedactedURL("1"); got != "http://user:xxxxx@"+addr+"/live/json/***/***/1" {
		t.Errorf("RedactedURL = %q", got)
	}
}
