package dlr

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

var t0 = time.Date(2024, 3, 5, 12, 7, 30, 0, time.UTC)

func sampleReceipt() Receipt {
	return Receipt{
		MessageID:   "0123456789ABCDEF",
		SystemID:    "acme",
		Source:      pdu.Address{TON: 5, NPI: 0, Addr: "ACME"},
		Dest:        pdu.Address{TON: 1, NPI: 1, Addr: "40722570240999"},
		SubmittedAt: t0,
		Err:         "003",
		Reason:      "invalid_number",
		DueAt:       t0.Add(time.Second),
		ExpiresAt:   t0.Add(24 * time.Hour),
	}
}

func TestReceiptText(t *testing.T) {
	tests := []struct {
		name      string
		submitted time.Time
		done      time.Time
		err       string
		want      string
	}{
		{
			name:      "utc",
			submitted: t0,
			done:      t0.Add(61 * time.Second),
			err:       "003",
			want:      "id:0123456789ABCDEF sub:001 dlvrd:000 submit date:2403051207 done date:2403051208 stat:DELIVRD err:003 text:",
		},
		{
			name:      "other zones are converted to UTC",
			submitted: time.Date(2024, 3, 5, 14, 7, 30, 0, time.FixedZone("EET", 2*3600)),
			done:      time.Date(2024, 12, 31, 23, 59, 59, 0, time.FixedZone("X", -3600)),
			err:       "000",
			want:      "id:0123456789ABCDEF sub:001 dlvrd:000 submit date:2403051207 done date:2501010059 stat:DELIVRD err:000 text:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sampleReceipt()
			r.SubmittedAt, r.Err = tt.submitted, tt.err
			if got := r.Text(tt.done); got != tt.want {
				t.Errorf("Text:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestReceiptDeliverSM(t *testing.T) {
	idTLV := "\x00\x1E\x00\x11" + "0123456789ABCDEF\x00"
	stateTLV := "\x04\x27\x00\x01\x02"
	tests := []struct {
		err      string
		wantTLVs string
	}{
		{"003", idTLV + stateTLV + "\x04\x23\x00\x03\x03\x00\x03"},
		{"001", idTLV + stateTLV + "\x04\x23\x00\x03\x03\x00\x01"},
		{"002", idTLV + stateTLV + "\x04\x23\x00\x03\x03\x00\x02"},
		{"000", idTLV + stateTLV},
		{"", idTLV + stateTLV},
	}
	for _, tt := range tests {
		t.Run("err="+tt.err, func(t *testing.T) {
			r := sampleReceipt()
			r.Err = tt.err
			done := t0.Add(time.Minute)
			sm := r.DeliverSM(done)
			if sm.ESMClass != 0x04 {
				t.Errorf("esm_class = %#x, want 0x04", sm.ESMClass)
			}
			if sm.Source != r.Dest || sm.Dest != r.Source {
				t.Errorf("addresses not swapped: source %+v dest %+v", sm.Source, sm.Dest)
			}
			if sm.ShortMessage != r.Text(done) {
				t.Errorf("short_message = %q", sm.ShortMessage)
			}
			if string(sm.TLVs) != tt.wantTLVs {
				t.Errorf("TLVs = %q, want %q", sm.TLVs, tt.wantTLVs)
			}
			if id, _ := sm.TLVs.CString(pdu.TagReceiptedMessageID); id != r.MessageID {
				t.Errorf("receipted_message_id = %q", id)
			}
			_, hasNEC := sm.TLVs.Get(pdu.TagNetworkErrorCode)
			if want := tt.err != "000" && tt.err != ""; hasNEC != want {
				t.Errorf("network_error_code present = %v, want %v", hasNEC, want)
			}
			if sm.DataCoding != 0 || sm.RegisteredDelivery != 0 || sm.ServiceType != "" {
				t.Errorf("unexpected fields: %+v", sm.SM)
			}
		})
	}
}

func TestReceiptBinaryRoundTrip(t *testing.T) {
	full := sampleReceipt()
	full.Attempts = 7
	full.SubmittedAt = full.SubmittedAt.Add(123456789 * time.Nanosecond)
	tests := []struct {
		name string
		r    Receipt
	}{
		{"full", full},
		{"zero times", Receipt{MessageID: "A", SystemID: "b"}},
		{"before 1970", Receipt{MessageID: "A", SystemID: "b", SubmittedAt: time.Date(1960, 1, 1, 0, 0, 0, 1, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.r.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var got Receipt
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			assertSameReceipt(t, got, tt.r)
			if id := receiptID(string(b)); id != tt.r.MessageID {
				t.Errorf("receiptID = %q", id)
			}
		})
	}
}

func TestReceiptUnmarshalCorrupt(t *testing.T) {
	b, _ := sampleReceipt().MarshalBinary()
	for n := 0; n < len(b); n++ { // every truncation
		var r Receipt
		if err := r.UnmarshalBinary(b[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d: err = %v, want ErrCorrupt", n, err)
		}
	}
	bad := append([]byte{}, b...)
	bad[0] = 9
	var r Receipt
	if err := r.UnmarshalBinary(bad); !errors.Is(err, ErrCorrupt) {
		t.Errorf("bad version: err = %v", err)
	}
	if err := r.UnmarshalBinary(append(b, 0)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("trailing octet: err = %v", err)
	}
}

func FuzzReceiptUnmarshal(f *testing.F) {
	b, _ := sampleReceipt().MarshalBinary()
	f.Add(b)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Receipt
		if err := r.UnmarshalBinary(data); err != nil {
			return
		}
		again, _ := r.MarshalBinary()
		var r2 Receipt
		if err := r2.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded receipt does not decode: %v", err)
		}
	})
}

// assertSameReceipt compares receipts, times with Equal.
func assertSameReceipt(t *testing.T, got, want Receipt) {
	t.Helper()
	sameTime := func(a, b time.Time) bool { return a.Equal(b) }
	if got.MessageID != want.MessageID || got.SystemID != want.SystemID || got.Source != want.Source ||
		got.Dest != want.Dest || got.Err != want.Err || got.Reason != want.Reason || got.Attempts != want.Attempts ||
		!sameTime(got.SubmittedAt, want.SubmittedAt) || !sameTime(got.DueAt, want.DueAt) || !sameTime(got.ExpiresAt, want.ExpiresAt) {
		t.Errorf("receipt:\n got %+v\nwant %+v", got, want)
	}
}

// The cached date text is the formatted date, whatever the order of the
// times it is asked for.
func TestMinuteStampMatchesFormat(t *testing.T) {
	base := time.Date(2026, 11, 29, 22, 59, 59, 999_999_999, time.UTC)
	times := []struct {
		name string
		t    time.Time
	}{
		{"a minute's last instant", base},
		{"the next minute", base.Add(time.Nanosecond)},
		{"the same minute again", base.Add(30 * time.Second)},
		{"back one minute", base.Add(-time.Minute)},
		{"another zone, same instant", base.In(time.FixedZone("x", 5*3600+1800))},
		{"before 1970", time.Date(1969, 12, 31, 23, 59, 30, 0, time.UTC)},
		{"1970's first minute", time.Date(1970, 1, 1, 0, 0, 30, 0, time.UTC)},
		{"zero time", time.Time{}},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"after year 10000", base},
	}
	var st minuteStamp
	for _, tt := range times {
		want := tt.t.UTC().Format(receiptDateLayout)
		if got := string(st.append(nil, tt.t)); got != want {
			t.Errorf("%s: %q, want %q", tt.name, got, want)
		}
	}
}

func BenchmarkFillDeliverSM(b *testing.B) {
	r := sampleReceipt()
	done := r.SubmittedAt.Add(time.Second)
	for _, cached := range []bool{false, true} {
		b.Run(fmt.Sprintf("cached=%v", cached), func(b *testing.B) {
			var sm pdu.DeliverSM
			var buf []byte
			var st *dateStamps
			if cached {
				st = new(dateStamps)
			}
			b.ReportAllocs()
			for b.Loop() {
				buf = r.fillDeliverSM(&sm, buf, done, st)
			}
		})
	}
}
