package admin

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestWriteJSONNeverSendsAnEmptyBody: a value JSON cannot encode (a
// +Inf) is answered 500 with the reason, not 200 with nothing after it.
func TestWriteJSONNeverSendsAnEmptyBody(t *testing.T) {
	rec := httptest.NewRecorder()
	writeJSON(rec, http.StatusOK, map[string]float64{"throughput": math.Inf(1)})
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	var body struct{ Error string }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || !strings.Contains(body.Error, "cannot encode") {
		t.Fatalf("body %q (%v), want a JSON error", rec.Body.String(), err)
	}
	rec = httptest.NewRecorder()
	writeJSON(rec, http.StatusCreated, map[string]int{"n": 1})
	if rec.Code != http.StatusCreated || !strings.Contains(rec.Body.String(), `"n": 1`) {
		t.Fatalf("status %d body %q", rec.Code, rec.Body.String())
	}
}
