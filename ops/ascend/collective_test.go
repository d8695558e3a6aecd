//go:build cgo

package ascend

import (
	"fmt"
	"strings"
	"testing"

	"github.com/resnext/resnext/internal/devmem"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/ops/cpu"
)

// oneRank is a one-rank Collective on a new backend: HCCL's calls, the streams and the events run
// against the test runtime with every contract check armed (the tests of several ranks, in
// processes of their own, are dist's TestJoinHCCL and acl's TestHCCL*).
func oneRank(t *testing.T) (*Backend, *Collective) {
	t.Helper()
	b := open(t, Options{})
	ri, err := b.CollectiveRootInfo()
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.joinRootInfo(ri, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if c.Rank() != 0 || c.Size() != 1 {
		t.Fatalf("rank %d of %d", c.Rank(), c.Size())
	}
	return b, c
}

// TestCollectiveBuckets: a bucket of tensors lying back to back in one block is reduced in place
// (one scale over the run for the mean), a bucket of separate tensors through a staging buffer, and
// the kernels queued between the start and the wait see their own values; the backend's Close
// closes the collective. A rank of one leaves the values as they were.
func TestCollectiveBuckets(t *testing.T) {
	b, c := oneRank(t)
	whole := b.Alloc(ops.Float32, ops.Shape{256}).(*tensor)
	half := func(i int) *tensor {
		return &tensor{shape: ops.Shape{128}, dtype: ops.Float32, owner: b,
			blk: devmem.Block{Ptr: whole.blk.Ptr + uintptr(512*i), Size: 512}}
	}
	run := []*tensor{half(0), half(1)}
	if !contiguousRun(run) {
		t.Fatal("two halves of a block are not back to back")
	}
	vals := make([]float32, 256)
	for i := range vals {
		vals[i] = float32(i) - 100.5
	}
	whole2 := ops.FromFloat32(b, ops.Float32, ops.Shape{256}, vals)
	b.Copy(whole2, whole)
	b.Free(whole2)
	h1 := ops.FromFloat32(b, ops.Float16, ops.Shape{3}, []float32{1, -2, 3})
	h2 := ops.FromFloat32(b, ops.Float16, ops.Shape{5}, []float32{4, 5, -6, 7, 8})
	other := b.Alloc(ops.Float32, ops.Shape{2})
	if err := c.StartAllReduce([]ops.Tensor{run[0], run[1]}, true); err != nil {
		t.Fatal(err)
	}
	if err := c.StartAllReduce([]ops.Tensor{h1, h2}, false); err != nil {
		t.Fatal(err)
	}
	b.Fill(other, 3)
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Barrier(); err != nil {
		t.Fatal(err)
	}
	if err := c.Broadcast(other, 0); err != nil {
		t.Fatal(err)
	}
	got, err := ops.ToFloat32(b, whole)
	if err != nil {
		t.Fatal(err)
	}
	for i := range vals {
		if got[i] != vals[i] {
			t.Fatalf("element %d: %v, want %v", i, got[i], vals[i])
		}
	}
	g1, _ := ops.ToFloat32(b, h1)
	g2, _ := ops.ToFloat32(b, h2)
	g3, _ := ops.ToFloat32(b, other)
	if g := append(append(g1, g2...), g3...); fmt.Sprint(g) != "[1 -2 3 4 5 -6 7 8 3 3]" {
		t.Errorf("float16 bucket and the kernel between: %v", g)
	}
	// Many buckets: events are reused once the compute stream has been synchronized.
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	held := len(c.free) + len(c.retired)
	for range 5 {
		if err := c.AllReduce(h1, true); err != nil {
			t.Fatal(err)
		}
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.free) + len(c.retired); n > held {
		t.Errorf("%d events held after five synchronized all-reduces, %d before", n, held)
	}
}

// TestCollectiveMisuse: what the collectives refuse, with errors rather than calls CANN would
// fail.
func TestCollectiveMisuse(t *testing.T) {
	b, c := oneRank(t)
	f := b.Alloc(ops.Float32, ops.Shape{2})
	h := b.Alloc(ops.Float16, ops.Shape{2})
	i := b.Alloc(ops.Int32, ops.Shape{2})
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"two dtypes", c.StartAllReduce([]ops.Tensor{f, h}, false), "one dtype per bucket"},
		{"int32", c.AllReduce(i, false), "want float32, float16 or bfloat16"},
		{"root", c.Broadcast(f, 1), "Broadcast from rank 1 of 1"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, tc.err)
		}
	}
	if _, ok := ops.Backend(cpu.New(cpu.Options{Threads: 1})).(ops.Collectives); ok {
		t.Error("the CPU backend claims device collectives")
	}
	if _, err := b.NewCollective([]byte{1, 2, 3}, 0, 1); err == nil || !strings.Contains(err.Error(), "a root info of 3 bytes") {
		t.Errorf("a short root info: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Barrier(); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Barrier after Close: %v", err)
	}
}
