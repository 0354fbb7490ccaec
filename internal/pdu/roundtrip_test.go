package pdu

import (
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, tc := range samples {
		t.Run(tc.name, func(t *testing.T) {
			frame := Append(nil, tc.pdu)
			got, err := Decode(frame)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := tc.pdu
			want.Length = uint32(len(frame))
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
			if again := Append(nil, got); string(again) != string(frame) {
				t.Fatalf("re-encoding differs:\n% x\n% x", again, frame)
			}
		})
	}
}
