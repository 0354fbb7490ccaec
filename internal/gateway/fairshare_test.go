package gateway

import "testing"

func TestFairShare(t *testing.T) {
	type step struct {
		take    string // the account taking a place, or
		give    string // the account giving one back
		want    bool   // take's answer
		wantUse int
	}
	tests := []struct {
		name     string
		capacity int
		steps    []step
	}{
		{"an account alone gets half", 4, []step{
			{take: "a", want: true, wantUse: 1},
			{take: "a", want: true, wantUse: 2},
			{take: "a", want: false, wantUse: 2},
		}},
		{"a newcomer finds a place and the first account's share shrinks", 6, []step{
			{take: "a", want: true, wantUse: 1},
			{take: "a", want: true, wantUse: 2},
			{take: "a", want: true, wantUse: 3},
			{take: "b", want: true, wantUse: 4}, // b's share: 6/(2+1) = 2
			{take: "b", want: true, wantUse: 5},
			{take: "b", want: false, wantUse: 5},
			{take: "a", want: false, wantUse: 5}, // a holds 3 > its share of 2
			{give: "a", wantUse: 4},
			{take: "a", want: false, wantUse: 4}, // 2, its share now
			{give: "b", wantUse: 3},
			{give: "b", wantUse: 2}, // b is gone: a alone again, share 3
			{take: "a", want: true, wantUse: 3},
		}},
		{"a pool of one still serves one at a time", 1, []step{
			{take: "a", want: true, wantUse: 1},
			{take: "b", want: false, wantUse: 1},
			{give: "a", wantUse: 0},
			{take: "b", want: true, wantUse: 1},
		}},
		{"a full pool refuses even an account with nothing", 4, []step{
			{take: "a", want: true, wantUse: 1},
			{take: "b", want: true, wantUse: 2},
			{take: "c", want: true, wantUse: 3},
			{take: "d", want: true, wantUse: 4},
			{take: "e", want: false, wantUse: 4},
		}},
		{"giving back what was never taken changes nothing", 2, []step{
			{give: "a", wantUse: 0},
			{take: "a", want: true, wantUse: 1},
			{give: "b", wantUse: 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFairShare(tt.capacity)
			for i, s := range tt.steps {
				if s.give != "" {
					f.give(s.give)
				} else if got := f.take(s.take); got != s.want {
					t.Fatalf("step %d: take(%q) = %v, want %v", i, s.take, got, s.want)
				}
				if got := f.inUse(); got != s.wantUse {
					t.Fatalf("step %d: inUse = %d, want %d", i, got, s.wantUse)
				}
			}
		})
	}
}
