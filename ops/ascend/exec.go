//go:build cgo

package ascend

import (
	"encoding/binary"
	"math"

	"github.com/resnext/resnext/acl"
)

// Every aclnn call of the backend goes through a call: the kernel names its tensor operands (inputs
// and outputs in the operator's argument order) and every attribute that shapes the executor, then
// run makes the executor from them. With the executor cache on, phase one (GetWorkspaceSize: on a
// card, the operator's tiling, tens of microseconds of host time) runs once per operator, operand
// layout and attributes; later calls with the same key rebind the addresses that changed
// (aclSetInputTensorAddr, aclSetOutputTensorAddr) and launch the kept repeatable executor again.
// A cached executor owns its descriptors, arrays and scalars, made for it, so nothing it was built
// from is destroyed while it is kept. Without the cache (CANN without the rebinding symbols, or
// Options.NoExecutorCache) every call runs both phases, as before.
//
// The rule that keeps the cache correct: the prep function of a call may use only what the call
// holds (c.t, c.ints, c.bools, c.scalar) and Go values that were also given to c.attr, so that
// every input of phase one is part of the key.

// maxExecutors bounds the cache; past it every kept executor is released at the next
// synchronisation and the cache starts again (a step of ResNeXt-152 needs about 1500).
const maxExecutors = 8192

// operand is one tensor argument of a call: a tensor's memory with a layout (the whole tensor,
// contiguous, when view is false) and its input and output index for rebinding (-1: not one).
type operand struct {
	t       *tensor
	dt      acl.DataType
	view    bool
	shape   []int64
	strides []int64
	offset  int64
	in, out int
}

// call is one aclnn call being described. The backend keeps one and reuses it.
type call struct {
	b       *Backend
	op      string
	key     []byte
	opnds   []operand
	nin     int
	nout    int
	ints    [][]int64
	bools   [][]bool
	scalars []scalarSpec

	// made when the executor is made: by operand, array and scalar index
	descs  []*acl.Tensor
	iarrs  []*acl.IntArray
	barrs  []*acl.BoolArray
	scals  []*acl.Scalar
	owned  []interface{ Destroy() error } // what a cached executor owns
	cached bool
}

type scalarSpec struct {
	dt  acl.DataType
	raw [8]byte
	n   int
}

// cachedExec is a kept repeatable executor with what it was made from and the addresses its
// operands are bound to now.
type cachedExec struct {
	ex    *acl.Executor
	descs []*acl.Tensor
	addrs []acl.Ptr
	owned []interface{ Destroy() error }
}

// Destroy releases the executor and everything it owns.
func (e *cachedExec) Destroy() error {
	err := e.ex.Destroy()
	for _, o := range e.owned {
		if x := o.Destroy(); err == nil {
			err = x
		}
	}
	return err
}

// newCall starts describing a call of op (the backend's kernel name, for errors).
func (b *Backend) newCall(op string) *call {
	c := &b.callBuf
	c.reset(b, op)
	return c
}

// reset starts describing a call of op, keeping c's buffers.
func (c *call) reset(b *Backend, op string) {
	c.b, c.op = b, op
	c.key = append(c.key[:0], op...)
	c.key = append(c.key, 0)
	c.opnds, c.nin, c.nout = c.opnds[:0], 0, 0
	c.ints, c.bools, c.scalars = c.ints[:0], c.bools[:0], c.scalars[:0]
}

func (c *call) keyInt(v int64) { c.key = binary.LittleEndian.AppendUint64(c.key, uint64(v)) }

func (c *call) keyInts(tag byte, v []int64) {
	c.key = append(c.key, tag)
	c.keyInt(int64(len(v)))
	for _, x := range v {
		c.keyInt(x)
	}
}

// add appends an operand and returns its index.
func (c *call) add(o operand) int {
	c.key = append(c.key, 'T', byte(o.dt))
	if o.in >= 0 {
		c.key = append(c.key, 'i')
	}
	if o.out >= 0 {
		c.key = append(c.key, 'o')
	}
	if o.view {
		c.keyInts('s', o.shape)
		c.keyInts('r', o.strides)
		c.keyInt(o.offset)
		c.keyInt(int64(o.t.shape.Numel()))
	} else {
		c.key = append(c.key, 'c')
		c.keyInt(int64(len(o.t.shape)))
		for _, d := range o.t.shape {
			c.keyInt(int64(d))
		}
	}
	c.opnds = append(c.opnds, o)
	return len(c.opnds) - 1
}

func (c *call) operand(t *tensor, in, out bool) operand {
	o := operand{t: t, dt: aclType(t.dtype), in: -1, out: -1}
	if in {
		o.in = c.nin
		c.nin++
	}
	if out {
		o.out = c.nout
		c.nout++
	}
	return o
}

// in adds t, whole and contiguous, as the next input.
func (c *call) in(t *tensor) int { return c.add(c.operand(t, true, false)) }

// out adds t as the next output.
func (c *call) out(t *tensor) int { return c.add(c.operand(t, false, true)) }

// inout adds t as the next input and the next output (the selfRef of an in-place operator).
func (c *call) inout(t *tensor) int { return c.add(c.operand(t, true, true)) }

// viewOf makes an operand of t's memory seen as type dt with the given shape, strides (elements)
// and offset.
func (c *call) viewOf(t *tensor, in, out bool, dt acl.DataType, shape, strides []int64, offset int64) int {
	o := c.operand(t, in, out)
	o.dt, o.view, o.shape, o.strides, o.offset = dt, true, shape, strides, offset
	return c.add(o)
}

// inView adds a view of t as the next input; outView as the next output.
func (c *call) inView(t *tensor, dt acl.DataType, shape, strides []int64, offset int64) int {
	return c.viewOf(t, true, false, dt, shape, strides, offset)
}

func (c *call) outView(t *tensor, dt acl.DataType, shape, strides []int64, offset int64) int {
	return c.viewOf(t, false, true, dt, shape, strides, offset)
}

// inReshaped adds t, contiguous, seen with another shape of the same size, as the next input.
func (c *call) inReshaped(t *tensor, shape ...int64) int {
	return c.inView(t, aclType(t.dtype), shape, contiguous(shape), 0)
}

// opt adds t as the next input when it is not nil and returns its index, else -1 (an optional
// tensor left NULL is not one of the executor's inputs).
func (c *call) opt(t *tensor) int {
	if t == nil {
		c.key = append(c.key, 'n')
		return -1
	}
	return c.in(t)
}

// optOut is opt for an output.
func (c *call) optOut(t *tensor) int {
	if t == nil {
		c.key = append(c.key, 'n')
		return -1
	}
	return c.out(t)
}

// intArray adds an aclIntArray attribute and returns its index.
func (c *call) intArray(v ...int64) int {
	c.keyInts('I', v)
	c.ints = append(c.ints, v)
	return len(c.ints) - 1
}

// boolArray adds an aclBoolArray attribute.
func (c *call) boolArray(v ...bool) int {
	c.key = append(c.key, 'B', byte(len(v)))
	for _, x := range v {
		if x {
			c.key = append(c.key, 1)
		} else {
			c.key = append(c.key, 0)
		}
	}
	c.bools = append(c.bools, v)
	return len(c.bools) - 1
}

// scalarF32 adds a float32 aclScalar attribute of value v.
func (c *call) scalarF32(v float64) int {
	var raw [4]byte
	binary.LittleEndian.PutUint32(raw[:], math.Float32bits(float32(v)))
	return c.scalarRaw(acl.Float32, raw[:])
}

// scalarRaw adds an aclScalar of type dt with the given little-endian bytes.
func (c *call) scalarRaw(dt acl.DataType, raw []byte) int {
	s := scalarSpec{dt: dt, n: len(raw)}
	copy(s.raw[:], raw)
	c.key = append(c.key, 'S', byte(dt), byte(len(raw)))
	c.key = append(c.key, raw...)
	c.scalars = append(c.scalars, s)
	return len(c.scalars) - 1
}

// attr adds plain values phase one takes (a dtype, a dimension, a flag as 0 or 1).
func (c *call) attr(v ...int64) { c.keyInts('A', v) }

// attrF adds a float attribute (batch norm's momentum and eps).
func (c *call) attrF(v float64) { c.attr(int64(math.Float64bits(v))) }

// t is the descriptor of operand i, nil for -1 (an optional tensor not given).
func (c *call) t(i int) *acl.Tensor {
	if i < 0 {
		return nil
	}
	return c.descs[i]
}

// ia, ba and sc are the made attribute i.
func (c *call) ia(i int) *acl.IntArray  { return c.iarrs[i] }
func (c *call) ba(i int) *acl.BoolArray { return c.barrs[i] }
func (c *call) sc(i int) *acl.Scalar    { return c.scals[i] }

// keep records a host object the executor uses: owned by a cached executor, or kept until the
// stream has passed the launch otherwise.
func keep[T interface{ Destroy() error }](c *call, o T) T {
	if c.cached {
		c.owned = append(c.owned, o)
	} else {
		c.b.later(o)
	}
	return o
}

// make builds the descriptors, arrays and scalars of the call. Cached executors get their own; an
// uncached call uses the tensors' shared descriptors where it can.
func (c *call) make() {
	b := c.b
	c.owned = nil
	c.descs = c.descs[:0]
	for _, o := range c.opnds {
		var d *acl.Tensor
		switch {
		case o.view:
			d = keep(c, must(b.lib.NewTensorView(o.dt, o.shape, o.strides, o.offset, acl.FormatFor(len(o.shape)),
				[]int64{int64(o.t.shape.Numel())}, o.t.ptr())))
		case c.cached:
			d = keep(c, must(b.lib.NewTensor(o.dt, dims64(o.t.shape), o.t.ptr())))
		default:
			d = b.desc(o.t)
		}
		c.descs = append(c.descs, d)
	}
	c.iarrs = c.iarrs[:0]
	for _, v := range c.ints {
		c.iarrs = append(c.iarrs, keep(c, must(b.lib.NewIntArray(v))))
	}
	c.barrs = c.barrs[:0]
	for _, v := range c.bools {
		c.barrs = append(c.barrs, keep(c, must(b.lib.NewBoolArray(v))))
	}
	c.scals = c.scals[:0]
	for _, s := range c.scalars {
		c.scals = append(c.scals, keep(c, must(b.lib.NewScalar(s.dt, s.raw[:s.n]))))
	}
}

// run queues the call: through a kept executor when the cache has one for its key, else phase one
// by prep (which builds the executor from c's descriptors and attributes) and a launch. A failure
// is recorded, as every kernel's is.
func (c *call) run(prep func(c *call) (*acl.Executor, error)) {
	b := c.b
	if b.failed() {
		return
	}
	b.launches++
	e, ok := b.execs[string(c.key)]
	switch {
	case !b.cacheExecs || ok && e == nil: // no cache, or an operator that cannot be replayed
		c.cached = false
		c.make()
		ex, err := prep(c)
		if err == nil {
			err = ex.Run(b.stream, b)
		}
		b.fail(c.op, err)
	case ok:
		b.execHits++
		if err := e.relaunch(c); err != nil {
			delete(b.execs, string(c.key))
			b.later(e)
			b.fail(c.op, err)
		}
	default:
		c.keepNew(prep)
	}
}

// keepNew makes the call's executor, repeatable and owning what it was built from, keeps it in the
// cache and launches it.
func (c *call) keepNew(prep func(c *call) (*acl.Executor, error)) {
	b := c.b
	c.cached = true
	c.make()
	ex, err := prep(c)
	if err != nil {
		for _, o := range c.owned {
			o.Destroy()
		}
		b.fail(c.op, err)
		return
	}
	if ex.SetRepeatable() != nil {
		// CANN refuses to make some executors repeatable (an operator that copies host data to the
		// device inside, say): launch this one once, and run this key's calls in both phases from
		// now on.
		for _, o := range c.owned {
			b.later(o)
		}
		b.execs[string(c.key)] = nil
		b.fail(c.op, ex.Run(b.stream, b))
		return
	}
	e := &cachedExec{ex: ex, descs: append([]*acl.Tensor(nil), c.descs...), owned: c.owned,
		addrs: make([]acl.Ptr, len(c.opnds))}
	for i, o := range c.opnds {
		e.addrs[i] = o.t.ptr()
	}
	if len(b.execs) >= maxExecutors {
		b.dropExecutors()
	}
	b.execs[string(c.key)] = e
	if err := e.ex.Run(b.stream, b); err != nil {
		delete(b.execs, string(c.key))
		b.later(e)
		b.fail(c.op, err)
	}
}

// relaunch points the executor's operands at the addresses of c's tensors where they moved and
// launches it, in one call into the C layer.
func (e *cachedExec) relaunch(c *call) error {
	b := c.b
	binds := b.binds[:0]
	for i, o := range c.opnds {
		p := o.t.ptr()
		if e.addrs[i] == p {
			continue
		}
		binds = append(binds, acl.Bind{Tensor: e.descs[i], Addr: p, In: o.in, Out: o.out})
		e.addrs[i] = p
	}
	b.binds = binds
	b.execRebinds += len(binds)
	return e.ex.RunRebound(b.stream, b, binds, &b.bindBuf)
}

// dropExecutors releases every kept executor once the stream has passed what is queued.
func (b *Backend) dropExecutors() {
	for k, e := range b.execs {
		if e != nil {
			b.later(e)
		}
		delete(b.execs, k)
	}
}

// ExecutorStats reports, since the backend was opened, how many aclnn calls (and graph replays) it
// queued, how many of them relaunched a kept executor, and how many operand addresses those had to
// rebind.
func (b *Backend) ExecutorStats() (launches, reused, rebound int) {
	return b.launches, b.execHits, b.execRebinds
}

// freshCall is newCall for a call made while another may be being described (the conversion get
// runs): it does not reuse the backend's call.
func (b *Backend) freshCall(op string) *call {
	c := &call{}
	c.reset(b, op)
	return c
}
