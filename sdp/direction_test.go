package sdp

import "testing"

func TestDirectionFlags(t *testing.T) {
	tests := []struct {
		d          Direction
		send, recv bool
		rev        Direction
		valid      bool
	}{
		{SendRecv, true, true, SendRecv, true},
		{SendOnly, true, false, RecvOnly, true},
		{RecvOnly, false, true, SendOnly, true},
		{Inactive, false, false, Inactive, true},
		{"", true, true, SendRecv, true},
		{"bogus", false, false, "bogus", false},
	}
	for _, tt := range tests {
		if got := tt.d.Sends(); got != tt.send {
			t.Errorf("%q.Sends() = %v, want %v", tt.d, got, tt.send)
		}
		if got := tt.d.Receives(); got != tt.recv {
			t.Errorf("%q.Receives() = %v, want %v", tt.d, got, tt.recv)
		}
		if got := tt.d.Reverse(); got != tt.rev {
			t.Errorf("%q.Reverse() = %q, want %q", tt.d, got, tt.rev)
		}
		if got := tt.d.Valid(); got != tt.valid {
			t.Errorf("%q.Valid() = %v, want %v", tt.d, got, tt.valid)
		}
	}
}

// TestIntersect checks every offered/wanted pair against RFC 3264 §6.1.
func TestIntersect(t *testing.T) {
	all := []Direction{SendRecv, SendOnly, RecvOnly, Inactive}
	// allowed[offered] is the set of directions an answer may have.
	allowed := map[Direction][]Direction{
		SendRecv: {SendRecv, SendOnly, RecvOnly, Inactive},
		SendOnly: {RecvOnly, Inactive},
		RecvOnly: {SendOnly, Inactive},
		Inactive: {Inactive},
	}
	want := map[[2]Direction]Direction{
		{SendOnly, SendRecv}: RecvOnly,
		{SendOnly, SendOnly}: Inactive,
		{RecvOnly, SendRecv}: SendOnly,
		{RecvOnly, RecvOnly}: Inactive,
		{SendRecv, SendOnly}: SendOnly,
		{Inactive, SendRecv}: Inactive,
	}
	for _, off := range all {
		for _, w := range all {
			got := off.Intersect(w)
			ok := false
			for _, a := range allowed[off] {
				ok = ok || a == got
			}
			if !ok {
				t.Errorf("%s.Intersect(%s) = %s, not allowed by RFC 3264 §6.1", off, w, got)
			}
			if exp, has := want[[2]Direction{off, w}]; has && got != exp {
				t.Errorf("%s.Intersect(%s) = %s, want %s", off, w, got, exp)
			}
			// The answerer never does more than it wants.
			if got.Sends() && !w.Sends() || got.Receives() && !w.Receives() {
				t.Errorf("%s.Intersect(%s) = %s exceeds what was wanted", off, w, got)
			}
		}
	}
}
