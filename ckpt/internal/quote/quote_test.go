package quote

import (
	"strings"
	"testing"
)

func TestBounded(t *testing.T) {
	long := strings.Repeat("é", 1<<20)
	for _, s := range []string{String(long), Bytes([]byte(long)), Clip(long), Ints(make([]int64, 1<<20))} {
		if len(s) > 4*Max+40 {
			t.Errorf("%d bytes: %.80s", len(s), s)
		}
	}
	if got := String("ab"); got != `"ab"` {
		t.Errorf("String(ab) = %s", got)
	}
	if got := String(long); !strings.HasSuffix(got, "... (2097152 bytes)") {
		t.Errorf("String(long) = %s", got)
	}
	if got := Ints([]int{1, 2}); got != "[1 2]" {
		t.Errorf("Ints = %s", got)
	}
}
