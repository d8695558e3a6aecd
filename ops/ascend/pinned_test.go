//go:build cgo

package ascend

import (
	"slices"
	"testing"

	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/ops"
)

// Write from memory of AllocPinned copies in place: the tensor holds what the buffer held when
// the copy ran, and WaitPinned returns once it has, after which the buffer may change.
func TestPinnedWrite(t *testing.T) {
	b := open(t, Options{Device: 0})
	const n = 1000
	buf, free, err := b.AllocPinned(4 * n)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(i) - 300.5
	}
	copy(buf, ops.Bytes(x))
	tens := b.Alloc(ops.Float32, ops.Shape{n / 2})
	defer b.Free(tens)
	b.Write(tens, buf[4*n/2:]) // a part of a pinned buffer is pinned too
	if err := b.WaitPinned(buf); err != nil {
		t.Fatal(err)
	}
	clear(buf)
	if got := testutil.Download(t, b, tens); !slices.Equal(got, x[n/2:]) {
		t.Errorf("the tensor holds %v..., want %v...", got[:3], x[n/2:n/2+3])
	}
	// Memory that is not pinned is staged as before, and needs no wait.
	other := ops.Bytes(slices.Clone(x[:n/2]))
	b.Write(tens, other)
	if err := b.WaitPinned(other); err != nil {
		t.Fatal(err)
	}
	if got := testutil.Download(t, b, tens); !slices.Equal(got, x[:n/2]) {
		t.Errorf("staged write: %v...", got[:3])
	}
	free()
	free() // a second call does nothing
	if b.pinnedOf(buf) != nil {
		t.Error("a freed buffer is still pinned")
	}
	// A buffer never freed is released when the backend closes (open's cleanup checks Close).
	if _, _, err := b.AllocPinned(64); err != nil {
		t.Fatal(err)
	}
}
