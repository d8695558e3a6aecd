package dist

import (
	"errors"
	"strings"
	"testing"

	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/ops/cpu"
)

// recorder is a Communicator of one rank that records the buckets started.
type recorder struct {
	Communicator
	buckets [][]ops.Tensor
	waits   int
	fail    error
}

func (r *recorder) Size() int { return 2 }
func (r *recorder) StartAllReduce(ts []ops.Tensor, mean bool) error {
	r.buckets = append(r.buckets, ts)
	return r.fail
}
func (r *recorder) Wait() error { r.waits++; return nil }

// TestBuckets: the first bucket of a pass closes at 1 MiB, the next ones at the cap; frozen
// parameters and those without a gradient are left out; Finish adds its extra tensors to the last
// bucket and waits; a failure to start a bucket is Finish's error.
func TestBuckets(t *testing.T) {
	b := cpu.New(cpu.Options{Threads: 1})
	defer b.Close()
	param := func(n int, trainable bool) *nn.Param {
		p := &nn.Param{Value: b.Alloc(ops.Float32, ops.Shape{n}), Trainable: trainable}
		if trainable {
			p.Grad = b.Alloc(ops.Float32, ops.Shape{n})
		}
		return p
	}
	const mib = 1 << 18 // float32s in 1 MiB
	r := &recorder{}
	g := NewBuckets(r, 2) // 2 MiB
	for pass := range 2 {
		r.buckets, r.waits = nil, 0
		g.Ready([]*nn.Param{param(mib/2, true), param(mib, false)}) // 0.5 MiB
		g.Ready([]*nn.Param{param(mib/2, true)})                    // 1 MiB: the first bucket closes
		g.Ready([]*nn.Param{param(mib, true)})                      // 1 MiB
		g.Ready([]*nn.Param{param(mib, true), {Trainable: true}})   // 2 MiB: the second closes
		g.Ready([]*nn.Param{param(10, true)})
		flag := b.Alloc(ops.Float32, ops.Shape{1})
		if err := g.Finish(flag); err != nil {
			t.Fatal(err)
		}
		sizes := []int{}
		for _, bk := range r.buckets {
			sizes = append(sizes, len(bk))
		}
		if len(sizes) != 3 || sizes[0] != 2 || sizes[1] != 2 || sizes[2] != 2 || r.buckets[2][1] != flag || r.waits != 1 {
			t.Errorf("pass %d: buckets of %v tensors, %d waits; want [2 2 2] with the flag last, and 1 wait", pass, sizes, r.waits)
		}
	}
	r.fail = errors.New("peer gone")
	g.Ready([]*nn.Param{param(mib*4, true)})
	if err := g.Finish(); err == nil || !strings.Contains(err.Error(), "peer gone") || !strings.Contains(err.Error(), "2 ranks") {
		t.Errorf("Finish after a failed start: %v", err)
	}
}
