//go:build cgo

package ascend

import (
	"github.com/resnext/resnext/acl"
	"github.com/resnext/resnext/internal/devmem"
	"github.com/resnext/resnext/ops"
)

// The flat optimizer step. SGDMomentum queues four to six aclnn calls per parameter, and a network
// has hundreds of parameters (161 trainable tensors in ResNeXt-50): several hundred launches per
// step, each costing host time. SGDMomentumGroup instead moves the parameters of a group, their
// gradients and their accumulators, the first time it sees the lists, into three blocks of device
// memory (a pack each), member i at the same offset in all three, and from then on runs the step
// once over each block seen as one 1-D float32 tensor: the same elementwise calls as SGDMomentum,
// as many as for one parameter, whatever the number of parameters.
//
// A packed tensor stays an ordinary tensor: its blk points into the pack (t.pack), its descriptor
// is made again at the new address, and Write, Read, Copy, Fill and every kernel see it there.
// Free of a member gives nothing to the allocator; the pack's block goes back when its last member
// is freed, or at Close. Members start at offsets aligned as the allocator's blocks are
// (devmem.Align), and the gaps between them are zeroed when the pack is made, so the step computes
// zeros there.
//
// A group whose member was freed (the optimizer that owned the accumulators freed, say) can no
// longer run flat; its other members stay where they are until lists made of them are packed
// anew, which moves them into new packs.
//
// Nothing in the backend keeps a tensor's device address beyond a queued call: descriptors are made
// from t.ptr() when a call is described (the tensor's own, t.desc, is dropped when it moves), the
// executor cache compares each operand's address with the one its executor is bound to at every
// call and rebinds what moved, and the backend's constants, AllFinite's accumulator and the pinned
// host buffers are the backend's own tensors and host memory, which are never packed. A captured
// graph is the exception: it keeps the addresses of its recording. Nothing is packed while a graph
// is being captured; a graph recorded before the lists were packed must not be replayed after.

// flatPack is a block of device memory holding a list of float32 tensors one after the other.
type flatPack struct {
	blk   devmem.Block // from the device allocator
	flat  *tensor      // the block as a 1-D float32 tensor of total elements (gaps included)
	live  int          // members not freed yet
	group *flatGroup
}

// flatGroup is what SGDMomentumGroup packed for one set of lists: the members as given, and the
// packs of the parameters, gradients and accumulators.
type flatGroup struct {
	params, grads, accums []*tensor
	packs                 [3]*flatPack
	broken                bool // a member was freed: these lists cannot be given again
}

var _ ops.SGDGroup = (*Backend)(nil)

// SGDMomentumGroup is SGDMomentum on every triple (params[i], grads[i], accums[i]). The first call
// with lists of two or more float32 tensors, none given twice and none in the packs of another
// group still whole, packs them; a later call with the same lists runs the step over the packs.
// Other lists (a subset of a packed group, lists that share tensors with one, float16 gradients)
// take SGDMomentum on each triple: the same results, one triple at a time.
func (b *Backend) SGDMomentumGroup(params, grads, accums []ops.Tensor, p ops.SGDParams) {
	ops.CheckSGDGroup(params, grads, accums, p)
	const op = "SGDMomentumGroup"
	if !b.noFlat {
		if g := b.flatGroupOf(op, params, grads, accums); g != nil {
			b.sgdStep(op, g.packs[0].flat, g.packs[1].flat, g.packs[2].flat, p)
			return
		}
	}
	for i := range params {
		b.SGDMomentum(params[i], grads[i], accums[i], p)
	}
}

// sgdStep queues one momentum-SGD step on param P, gradient G and accumulator A, tensors of one
// shape (P and A float32, G any float type): g = G*GradScale (+ WeightDecay*P), A = Momentum*A + g,
// P -= LR*A, or with Nesterov P -= LR*(g + Momentum*A). SGDMomentum runs it on one parameter, the
// group step on packs.
func (b *Backend) sgdStep(op string, P, G, A *tensor, p ops.SGDParams) {
	if P.shape.Numel() == 0 {
		return
	}
	gs := p.GradScale
	if gs == 0 {
		gs = 1
	}
	g := G
	if gs != 1 || p.WeightDecay != 0 || p.Nesterov || G.dtype != ops.Float32 {
		g = b.scratch(ops.Float32, P.shape...)
		defer b.Free(g)
		if G.dtype != ops.Float32 {
			b.cast(op, G, g)
			if gs != 1 {
				b.inplaceMuls(op, g, gs)
			}
		} else {
			b.muls(op, G, g, gs)
		}
		if p.WeightDecay != 0 {
			b.inplaceAdd(op, g, P, p.WeightDecay)
		}
	}
	b.inplaceMuls(op, A, p.Momentum)
	b.inplaceAdd(op, A, g, 1)
	step := A
	if p.Nesterov {
		b.inplaceAdd(op, g, A, p.Momentum)
		step = g
	}
	b.inplaceAdd(op, P, step, -p.LR)
}

// flatGroupOf returns the packed group the lists are, packing them if they can be, or nil when the
// step must go triple by triple.
func (b *Backend) flatGroupOf(op string, params, grads, accums []ops.Tensor) *flatGroup {
	if len(params) < 2 || b.failed() {
		return nil
	}
	if pk := get(op, params[0]).pack; pk != nil && !pk.group.broken {
		if pk.group.is(params, grads, accums) {
			return pk.group
		}
		return nil
	}
	return b.pack(op, params, grads, accums)
}

// is reports whether the lists are g's, tensor for tensor.
func (g *flatGroup) is(params, grads, accums []ops.Tensor) bool {
	if len(params) != len(g.params) {
		return false
	}
	for i := range params {
		if params[i] != ops.Tensor(g.params[i]) || grads[i] != ops.Tensor(g.grads[i]) || accums[i] != ops.Tensor(g.accums[i]) {
			return false
		}
	}
	return true
}

// alignUp rounds n up to a multiple of devmem.Align.
func alignUp(n uint64) uint64 { return (n + devmem.Align - 1) / devmem.Align * devmem.Align }

// pack moves the lists into three packs and returns their group, or returns nil, moving nothing,
// when they cannot be packed: a tensor that is not float32, given twice or in the pack of a group
// still whole, nothing to pack, no device memory for the blocks, or a graph being captured or alive
// (its replays would use the tensors' old memory). Members of a broken group move out of their old
// pack.
func (b *Backend) pack(op string, params, grads, accums []ops.Tensor) *flatGroup {
	if b.capture != nil || b.graphs > 0 {
		return nil
	}
	n := len(params)
	g := &flatGroup{params: make([]*tensor, n), grads: make([]*tensor, n), accums: make([]*tensor, n)}
	lists := [3][]*tensor{g.params, g.grads, g.accums}
	seen := make(map[*tensor]bool, 3*n)
	for k, given := range [3][]ops.Tensor{params, grads, accums} {
		for i, t := range given {
			c := get(op, t)
			if c.dtype != ops.Float32 || c.pack != nil && !c.pack.group.broken || seen[c] {
				return nil
			}
			seen[c] = true
			lists[k][i] = c
		}
	}
	offsets := make([]uint64, n)
	var total uint64
	for i, c := range g.params {
		offsets[i] = total
		total += alignUp(uint64(c.bytes()))
	}
	if total == 0 {
		return nil
	}
	var blks [3]devmem.Block
	for k := range blks {
		blk, err := b.mem.Alloc(total)
		if err != nil { // the per-tensor step needs no more memory than it has now
			for _, got := range blks[:k] {
				b.mem.Free(got)
			}
			return nil
		}
		blks[k] = blk
	}
	for k, members := range lists {
		pk := &flatPack{blk: blks[k], live: n, group: g,
			flat: &tensor{shape: ops.Shape{int(total / 4)}, dtype: ops.Float32, blk: blks[k]}}
		g.packs[k] = pk
		b.packs = append(b.packs, pk)
		b.fail(op, b.stream.MemsetAsync(acl.Ptr(pk.blk.Ptr), total, 0))
		for i, c := range members {
			slot := devmem.Block{Ptr: pk.blk.Ptr + uintptr(offsets[i]), Size: alignUp(uint64(c.bytes()))}
			if c.bytes() > 0 {
				b.fail(op, b.stream.MemcpyAsync(acl.Ptr(slot.Ptr), c.ptr(), uint64(c.bytes()), acl.DeviceToDevice))
			}
			// Stream order: the copy just queued reads the old memory before anything reuses it.
			b.release(c)
			c.blk, c.pack = slot, pk
		}
	}
	return g
}

// unpack takes t out of its pack, when it is freed or packed anew: its group can no longer run
// flat, and the pack's block goes back to the allocator with its last member.
func (b *Backend) unpack(t *tensor) {
	pk := t.pack
	t.pack = nil
	pk.group.broken = true
	if pk.live--; pk.live == 0 {
		b.releasePack(pk)
	}
}

// releasePack gives a pack's block back to the allocator.
func (b *Backend) releasePack(pk *flatPack) {
	b.freeBlock(pk.blk)
	if pk.flat.desc != nil {
		b.later(pk.flat.desc)
		pk.flat.desc = nil
	}
	pk.flat.freed = true
	for i, q := range b.packs {
		if q == pk {
			b.packs = append(b.packs[:i], b.packs[i+1:]...)
			break
		}
	}
}

// releasePacks gives back the blocks of packs whose members were not all freed (at Close).
func (b *Backend) releasePacks() {
	for len(b.packs) > 0 {
		b.releasePack(b.packs[len(b.packs)-1])
	}
}
