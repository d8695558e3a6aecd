//go:build cgo

package ascend

import (
	"math/rand/v2"
	"testing"

	"github.com/resnext/resnext/internal/devmem"
	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/resnext"
	"github.com/resnext/resnext/train/optim"
)

// launches is the number of aclnn calls b has queued.
func launches(b *Backend) int {
	n, _, _ := b.ExecutorStats()
	return n
}

// sgdLists allocates n parameters of odd sizes with their gradients and accumulators, filled.
func sgdLists(b *Backend, n int) (params, grads, accums []ops.Tensor) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := range n {
		shape := ops.Shape{1 + 37*i%301, 3}
		for _, l := range []*[]ops.Tensor{&params, &grads, &accums} {
			*l = append(*l, testutil.Upload(b, shape, testutil.Randn(r, shape.Numel(), 1)))
		}
	}
	return params, grads, accums
}

// TestSGDGroupLaunches checks that once packed a group step queues a few aclnn calls whatever the
// number of parameters, where the per-tensor step queues several per parameter; that the packs
// lay the members out aligned, at the same offsets in the three blocks; and that the blocks go back
// to the allocator when the members are freed.
func TestSGDGroupLaunches(t *testing.T) {
	b := open(t, Options{Device: 0})
	p := ops.SGDParams{LR: 0.1, Momentum: 0.9, WeightDecay: 1e-4, Nesterov: true, GradScale: 1.0 / 1024}
	for _, n := range []int{2, 40, 161} {
		before := b.MemoryStats().InUse
		params, grads, accums := sgdLists(b, n)

		start := launches(b)
		for i := range params {
			b.SGDMomentum(params[i], grads[i], accums[i], p)
		}
		each := launches(b) - start

		b.SGDMomentumGroup(params, grads, accums, p) // packs
		start = launches(b)
		b.SGDMomentumGroup(params, grads, accums, p)
		group := launches(b) - start
		t.Logf("%d parameters: %d aclnn calls per step one by one, %d as a group", n, each, group)
		if group > 8 {
			t.Errorf("%d parameters: the group step queued %d aclnn calls, want at most 8", n, group)
		}
		if each < 4*n {
			t.Errorf("%d parameters: the per-tensor step queued %d aclnn calls, want at least %d (is the count right?)", n, each, 4*n)
		}

		P0 := params[0].(*tensor)
		if P0.pack == nil {
			t.Fatalf("%d parameters: not packed", n)
		}
		g := P0.pack.group
		for i := range params {
			var at [3]uintptr
			for k, l := range [][]ops.Tensor{params, grads, accums} {
				c := l[i].(*tensor)
				if c.pack != g.packs[k] {
					t.Fatalf("member %d of list %d is not in its pack", i, k)
				}
				at[k] = c.blk.Ptr - c.pack.blk.Ptr
				if c.blk.Ptr%devmem.Align != 0 || at[k]+uintptr(c.bytes()) > uintptr(c.pack.flat.bytes()) {
					t.Errorf("member %d of list %d at offset %d (%d bytes) in a pack of %d bytes", i, k, at[k], c.bytes(), c.pack.flat.bytes())
				}
			}
			if at[0] != at[1] || at[0] != at[2] {
				t.Errorf("member %d at offsets %v in the three packs", i, at)
			}
		}
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
		for _, l := range [][]ops.Tensor{params, grads, accums} {
			for _, x := range l {
				b.Free(x)
			}
		}
		if len(b.packs) != 0 {
			t.Errorf("%d parameters: %d packs left after every member was freed", n, len(b.packs))
		}
		if after := b.MemoryStats().InUse; after != before {
			t.Errorf("%d parameters: %d bytes in use after freeing everything, %d before", n, after, before)
		}
	}
}

// TestSGDGroupClose checks that Close gives back packs whose members were never freed.
func TestSGDGroupClose(t *testing.T) {
	o := Options{Device: 0, Lib: testLib(t)}
	b, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	params, grads, accums := sgdLists(b, 5)
	b.SGDMomentumGroup(params, grads, accums, ops.SGDParams{LR: 0.1, Momentum: 0.9})
	b.Free(params[0]) // one member freed, the rest left to Close
	if len(b.packs) != 3 {
		t.Fatalf("%d packs, want 3", len(b.packs))
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if len(b.packs) != 0 {
		t.Errorf("%d packs left after Close", len(b.packs))
	}
}

// perTensor hides a backend's group step: ops.SGDMomentumGroup then runs SGDMomentum on each triple,
// as SGD.Step did before the group step.
type perTensor struct{ ops.Backend }

// TestSGDGroupResNeXt50 counts the aclnn calls of one optimizer step of resnext50_32x4d with the
// recipe's settings (momentum 0.9, weight decay 1e-4, loss scale 1024), one parameter at a time and
// as groups, with MindCV's default weight-decay filter (one group) and with "auto" (two).
func TestSGDGroupResNeXt50(t *testing.T) {
	if testing.Short() {
		t.Skip("ResNeXt-50's 25 million parameters take a while on the test runtime")
	}
	b := open(t, Options{Device: 0})
	cfg, err := resnext.Variant("resnext50_32x4d")
	if err != nil {
		t.Fatal(err)
	}
	m, err := resnext.Build(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	trainable := 0
	for _, p := range m.Params() {
		if p.Trainable {
			p.Grad = b.Alloc(ops.Float32, p.Value.Shape())
			b.Fill(p.Grad, 1e-3)
			trainable++
		}
	}
	for _, filter := range []string{"disable", "auto"} {
		o := optim.Options{Opt: "momentum", Momentum: 0.9, WeightDecay: 1e-4, WeightDecayFilter: filter}
		count := func(be ops.Backend, steps int) int {
			s, err := optim.New(be, m.Params(), o)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Free() // breaks the groups: the next optimizer packs its lists anew
			for range steps - 1 {
				s.Step(0.1, 1.0/1024, nil) // the group step packs in the first
			}
			start := launches(b)
			s.Step(0.1, 1.0/1024, nil)
			return launches(b) - start
		}
		each, group := count(perTensor{b}, 1), count(b, 2)
		t.Logf("resnext50_32x4d, %d trainable tensors, weight_decay_filter %s: %d aclnn calls per step one by one, %d as groups",
			trainable, filter, each, group)
		if group > 16 || each < 4*trainable {
			t.Errorf("filter %s: %d aclnn calls as groups (want at most 16), %d one by one (want at least %d)", filter, group, each, 4*trainable)
		}
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
	}
}
