package readn

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/resnext/resnext/data/internal/alloctest"
)

func TestRead(t *testing.T) {
	src := bytes.Repeat([]byte{7}, 3*firstChunk+5)
	b, err := Read(bytes.NewReader(src), int64(len(src)))
	if err != nil || !bytes.Equal(b, src) {
		t.Fatalf("whole stream: %d bytes, %v", len(b), err)
	}
	b, err = Read(bytes.NewReader(src), 10)
	if err != nil || len(b) != 10 {
		t.Fatalf("prefix: %d bytes, %v", len(b), err)
	}
	if b, err := Read(bytes.NewReader(nil), 0); err != nil || len(b) != 0 {
		t.Fatalf("empty: %d bytes, %v", len(b), err)
	}
}

// A header asking for 16 GiB of a 100-byte stream fails without allocating what it asks for.
func TestReadShortIsCheap(t *testing.T) {
	n := alloctest.Bytes(func() {
		if _, err := Read(bytes.NewReader(make([]byte, 100)), 16<<30); !errors.Is(err, ErrShort) {
			t.Fatalf("got %v, want ErrShort", err)
		}
	})
	if n > 2*firstChunk {
		t.Errorf("%d bytes allocated", n)
	}
}

func TestProduct(t *testing.T) {
	for _, c := range []struct {
		dims  []int
		unit  int64
		limit int64
		want  int64
		ok    bool
	}{
		{[]int{2, 3}, 4, 100, 24, true},
		{[]int{2, 3}, 4, 23, 0, false},
		{[]int{0, 1 << 40}, 1, 1 << 34, 0, true},
		{[]int{1<<32 - 1, 1<<32 - 1}, 1, math.MaxInt64, 0, false}, // wraps in 64 bits
		{[]int{1 << 32, 1 << 32}, 1, math.MaxInt64, 0, false},     // wraps to zero
		{[]int{-1}, 1, 10, 0, false},
		{nil, 8, 10, 8, true},
	} {
		n, ok := Product(c.dims, c.unit, c.limit)
		if n != c.want || ok != c.ok {
			t.Errorf("Product(%v, %d, %d) = %d, %v; want %d, %v", c.dims, c.unit, c.limit, n, ok, c.want, c.ok)
		}
	}
}
