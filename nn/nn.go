// Package nn holds the layers of a ResNeXt with explicit Forward and Backward passes on an
// ops.Backend: Conv2d, BatchNorm2d, ReLU, MaxPool2d, GlobalAvgPool, Linear, Sequential, Add (for
// residual connections), the softmax cross-entropy loss, and MindCV's initialisers.
//
// There is no autograd tape. Each layer keeps what its Backward needs from the last Forward (the
// input, batch statistics, the pool mask, log-probabilities), and a network's Backward calls its
// layers' Backward in reverse order.
//
// # Buffers
//
// A layer owns its output and gradient buffers and reuses them from call to call while the input
// shape stays the same (it reallocates only when the shape changes). The tensors a layer returns
// belong to it: they stay valid until its next Forward (for outputs) or Backward (for input
// gradients), or until it gives them back (ReleaseBuffers), and the caller must not Free them. A
// layer keeps a reference to its Forward input, so the caller must leave that tensor unchanged
// until the layer's Backward has run: the in-place modes of ReLU and Add are the sanctioned
// exceptions, for inputs that nothing reads afterwards.
//
// Networks (Sequential, and package resnext's block and model) give their layers' buffers back as
// soon as nothing can read them any more, as PyTorch's autograd frees a saved tensor once the
// backward pass has gone past it:
//
//   - In training, Forward keeps every layer's buffers, because Backward reads them, and Backward
//     gives a layer's buffers back (its output, its saved state and its input gradient) once the
//     layer before it has consumed the gradient it returned (BackwardChain). A training step thus
//     holds every saved activation at the end of the forward pass but only a few gradients at a
//     time, and after Backward no more than what the network owes its caller: its output (the
//     logits), valid until the next Forward, and the gradient it returned, valid until the next
//     Backward; the layer holding the output gives back the rest (ReleaseBackward). The outputs
//     and gradients of the layers inside the network are gone, and each Backward needs a Forward
//     of its own.
//   - In evaluation nothing calls Backward, so Forward gives a layer's buffers back once the next
//     layer has read its output (ForwardChain): a forward pass holds a few layers' outputs instead
//     of all of them.
//
// An output whose only reader saves nothing for its Backward, as the down-sampling branch's in a
// residual block (the sum reads it), goes back as soon as it has been read (OutputReleaser).
//
// The next pass takes the same buffers from the backend's pool (ops.Backend.Alloc: the CPU backend
// keeps freed storage by size, the Ascend backend's allocator caches device memory), so training
// needs no new memory once two steps have run with a shape (the parameter gradients, allocated
// during the first Backward, can take a size that buffers of the second step need). A network told
// KeepBuffers(true) (see BufferKeeper) keeps every buffer in training instead, as a single layer
// does: the outputs and gradients of its layers stay readable after Backward, for inspection, and
// a second training step allocates nothing at all, but a step then holds every gradient along
// with every activation.
//
// # Parameters
//
// Params lists a layer's tensors by their MindCV checkpoint names, relative to the layer ("weight",
// "gamma", "moving_mean"). A composite layer prefixes its children's names once, when it is built
// (see Child and Sequential), so that a network's Params carry full names such as
// "layer1.0.conv2.weight". Each Backward overwrites the gradients of the trainable parameters
// (it does not accumulate). Gradients are allocated by the first Backward.
//
// # Residual blocks
//
// A block y = relu(f(x) + g(x)), g the identity or a down-sampling branch, joins its branches with
// an Add. The gradient of a sum reaches both terms unchanged, so the block's Backward passes the
// gradient from its last ReLU to both branches and sums the two gradients they return with respect
// to x with a second Add:
//
//	func (k *Bottleneck) Forward(x ops.Tensor) ops.Tensor {
//		out := k.bn1.Forward(k.conv1.Forward(x)) // bn1.ReLU: relu(bn1(...)) in one kernel
//		out = k.bn2.Forward(k.conv2.Forward(out))
//		out = k.bn3.Forward(k.conv3.Forward(out))
//		identity := x
//		if k.downSample != nil {
//			identity = k.downSample.Forward(x)
//		}
//		return k.relu.Forward(k.add.Forward(out, identity))
//	}
//
//	func (k *Bottleneck) Backward(dy ops.Tensor) ops.Tensor {
//		dy = k.relu.Backward(dy) // the gradient of the sum, shared by both branches
//		d := k.conv3.Backward(k.bn3.Backward(dy))
//		d = k.conv2.Backward(k.bn2.Backward(d))
//		d = k.conv1.Backward(k.bn1.Backward(d))
//		identity := dy
//		if k.downSample != nil {
//			identity = k.downSample.Backward(dy)
//		}
//		return k.addGrad.Forward(d, identity)
//	}
//
// The branches only read the shared gradient, so neither may start with a layer that writes over
// its dy (an in-place ReLU, a BatchNorm2d with ReLU); bn1 and bn2 may fuse their ReLUs
// (BatchNorm2d.ReLU: their gradients feed one layer each). Both Adds may work
// in place too (Add.InPlace), as PyTorch's out += identity: the sum over bn3's output, which
// nothing reads afterwards (bn3's Backward reads its input, not its output), and the sum of the
// input gradients over the main branch's, which feeds addGrad alone. Package resnext's block does
// both, and runs its main branch with ForwardChain and BackwardChain to release buffers as a
// Sequential does.
//
// # Compute type
//
// A layer computes in the dtype of its input: float32, or float16 for MindCV's amp_level O2 on a
// backend whose kernels take float16 tensors (ops.CanCompute; CheckComputeType says why a backend
// cannot). Outputs and input gradients have the input's dtype; pooling, ReLU and Add work on
// float16 tensors as they are. Parameters stay float32 whatever the compute type (master
// weights): Param.Value and Param.Grad are float32, so the optimizer, checkpoints and averages see
// float32 only.
//
//   - Conv2d and Linear run a float16 Forward on a float16 copy of their weight (and bias), cast
//     from the float32 master by ops.Backend.Cast at each Forward, so it follows every optimizer
//     step. Backward computes the weight gradient in float16 and casts it into the float32
//     Param.Grad. The copy is the layer's until Free (ReleaseBuffers keeps it, as it keeps the
//     parameters); a float32 Forward gives it back.
//   - BatchNorm2d takes a float16 input and writes a float16 output, keeping its statistics,
//     affine parameters, saved mean and inverse standard deviation in float32.
//   - The loss wants float32 logits: a float16 network casts its output to float32 before it (and
//     the loss's gradient back to float16), as package resnext's Model does.
//
// A gradient under a loss scale holds scale times the gradient, computed in float16, where it can
// overflow: check the parameters' gradients with ops.Backend.AllFinite before a step. A float32
// input takes the float32 path, which makes no cast and no copy.
//
// Misuse (a wrong shape, Backward before Forward) panics with a message that names the layer and
// the shapes.
package nn

import (
	"fmt"
	"strings"

	"github.com/resnext/resnext/ops"
)

// Param is one named tensor of a layer: a weight, or a BatchNorm moving statistic.
type Param struct {
	// Name is the MindCV checkpoint name relative to the layer that lists it, e.g. "conv1.weight",
	// "bn1.gamma" or "bn1.moving_mean" for a bottleneck block.
	Name string
	// Value holds the parameter, float32 whatever the compute type (see Compute type).
	Value ops.Tensor
	// Grad holds the gradient of the loss with respect to Value, written (overwritten, not
	// accumulated) by each Backward; it is nil until the first Backward, and always nil for the
	// moving statistics. It is float32 like Value, and holds scale times the gradient when the
	// loss's gradient was scaled (loss scaling).
	Grad ops.Tensor
	// Trainable parameters get gradients and are updated by the optimizer. BatchNorm moving
	// statistics are not trainable. Setting Trainable to false on a weight freezes it: Backward
	// then skips its gradient and leaves Grad as it was.
	Trainable bool
}

// Layer is a differentiable function of one tensor with explicit forward and backward passes.
type Layer interface {
	// Forward computes the layer's output for x and remembers what Backward needs. The result
	// belongs to the layer and stays valid until its next Forward or ReleaseBuffers.
	Forward(x ops.Tensor) ops.Tensor
	// Backward takes the gradient of the loss with respect to the last Forward's output and returns
	// the gradient with respect to its input, writing the parameter gradients on the way
	// (overwriting them). The result belongs to the layer and stays valid until its next Backward,
	// ReleaseBuffers or ReleaseBackward; it is nil when the layer was told not to compute it
	// (NoInputGrad). A network releases its layers' buffers as its Backward passes them (see
	// Buffers), so it needs a Forward before each Backward.
	Backward(dy ops.Tensor) ops.Tensor
	// Params lists the layer's parameters, trainable or not, in a fixed order.
	Params() []*Param
	// SetTraining switches between training (batch statistics, the default) and evaluation.
	SetTraining(training bool)
	// ReleaseBuffers gives back the buffers the layer holds (outputs, input gradients, what Backward
	// would need), keeping its parameters and their gradients. A network calls it on a layer as
	// soon as nothing can read them (see Buffers): in evaluation once the next layer has read the
	// layer's output, in training once the layer before it has consumed its input gradient. The
	// tensors the layer returned are invalid afterwards, and Backward needs a new Forward; the next
	// Forward allocates again (from the backend's pool).
	ReleaseBuffers()
	// ReleaseBackward gives back what only the backward pass uses (the input gradient and the state
	// saved for Backward: batch statistics, a pool mask, the reference to the input) and keeps the
	// output: a network calls it instead of ReleaseBuffers on the layer holding its output, which
	// stays valid. Backward needs a new Forward afterwards.
	ReleaseBackward()
	// Free releases every tensor the layer holds, its parameters included. The layer must not be
	// used afterwards.
	Free()
}

// BufferKeeper is a network that releases its layers' buffers in training as soon as nothing can
// read them (see Buffers): Sequential, and package resnext's block and model.
type BufferKeeper interface {
	// KeepBuffers(true) makes training release nothing, so that every layer's buffers stay as the
	// last Forward and Backward left them, until they are next written; KeepBuffers(false) restores
	// the default, releasing. The setting reaches the networks inside.
	KeepBuffers(keep bool)
}

// OutputReleaser is a layer that can give back its output before its Backward, keeping what
// Backward needs, because its Backward does not read the output: BatchNorm2d, and a Sequential
// whose last child holds its output and can. A network calls it when the only reader of the output
// saves nothing for its own Backward: the sum of a residual block reads the down-sampling branch's
// output, which PyTorch frees as soon as the sum is taken.
type OutputReleaser interface {
	// ReleaseOutput gives back the output of the last Forward, which is invalid afterwards; the
	// Backward of that Forward still works, and the next Forward allocates the output again.
	ReleaseOutput()
}

// SetKeepBuffers calls l.KeepBuffers(keep) when l is a BufferKeeper, and does nothing for other
// layers, which keep their buffers anyway. Networks pass the setting on to their layers with it.
func SetKeepBuffers(l Layer, keep bool) {
	if k, ok := l.(BufferKeeper); ok {
		k.KeepBuffers(keep)
	}
}

// Child adopts l as the child called name of a composite layer: it prefixes the name of each of l's
// parameters with name + "." in place, as MindSpore names the parameters of nested cells, and
// returns them. Call it once per child, when the parent is built.
func Child(name string, l Layer) []*Param {
	ps := l.Params()
	for _, p := range ps {
		p.Name = name + "." + p.Name
	}
	return ps
}

// newParam allocates a float32 parameter filled with v.
func newParam(b ops.Backend, name string, shape ops.Shape, v float64, trainable bool) *Param {
	t := b.Alloc(ops.Float32, shape)
	b.Fill(t, v)
	return &Param{Name: name, Value: t, Trainable: trainable}
}

// grad returns p's gradient buffer, allocating it on first use, or nil when p is frozen.
func (p *Param) grad(b ops.Backend) ops.Tensor {
	if !p.Trainable {
		return nil
	}
	if p.Grad == nil {
		p.Grad = b.Alloc(p.Value.DType(), p.Value.Shape())
	}
	return p.Grad
}

// free releases p's tensors.
func (p *Param) free(b ops.Backend) {
	if p.Value != nil {
		b.Free(p.Value)
	}
	if p.Grad != nil {
		b.Free(p.Grad)
	}
	p.Value, p.Grad = nil, nil
}

// buffer returns *t when it already has the given dtype and shape; otherwise it frees *t (if any),
// allocates a new tensor and stores it in *t.
func buffer(b ops.Backend, t *ops.Tensor, dt ops.DType, shape ops.Shape) ops.Tensor {
	if *t != nil && (*t).DType() == dt && (*t).Shape().Equal(shape) {
		return *t
	}
	if *t != nil {
		b.Free(*t)
	}
	*t = b.Alloc(dt, shape)
	return *t
}

// freeAll releases the non-nil tensors and sets them to nil.
func freeAll(b ops.Backend, ts ...*ops.Tensor) {
	for _, t := range ts {
		if *t != nil {
			b.Free(*t)
			*t = nil
		}
	}
}

// CheckComputeType reports whether b can run a network in dt: nil for float32 on every backend
// and for float16 on a backend whose kernels take it (ops.CanCompute), else an error that says
// why and what to use instead.
func CheckComputeType(b ops.Backend, dt ops.DType) error {
	switch {
	case ops.CanCompute(b, dt):
		return nil
	case dt == ops.Float16:
		return fmt.Errorf("compute type float16 (amp_level O2): the %s backend computes in float32 only; "+
			"use float32 (amp_level O0) on it, or a backend whose kernels take float16 (ascend)", b.Name())
	}
	return fmt.Errorf("compute type %v: want float32 (amp_level O0) or float16 (amp_level O2)", dt)
}

// computeCopy returns p's value in dtype dt: p.Value itself when it has that dtype (freeing any
// copy *cp held from an earlier Forward in another dtype), else *cp, cast from p.Value now and
// kept in *cp until the layer frees it.
func computeCopy(b ops.Backend, p *Param, cp *ops.Tensor, dt ops.DType) ops.Tensor {
	if p.Value.DType() == dt {
		freeAll(b, cp)
		return p.Value
	}
	t := buffer(b, cp, dt, p.Value.Shape())
	b.Cast(p.Value, t)
	return t
}

// gradInto runs compute, a kernel that writes a parameter's gradient computed in dtype dt, for g,
// the parameter's float32 gradient: compute(g) when g is nil (not wanted) or of dtype dt, else
// compute into *scratch (a buffer of dtype dt the layer gives back with its input gradient), cast
// into g.
func gradInto(b ops.Backend, g ops.Tensor, dt ops.DType, scratch *ops.Tensor, compute func(g ops.Tensor)) {
	if g == nil || g.DType() == dt {
		compute(g)
		return
	}
	s := buffer(b, scratch, dt, g.Shape())
	compute(s)
	b.Cast(s, g)
}

// misuse panics with a message naming the layer.
func misuse(layer, format string, args ...any) {
	panic(fmt.Sprintf("nn.%s: %s", layer, fmt.Sprintf(format, args...)))
}

// label names a layer in messages: its kind and, when it has parameters that a parent has named,
// its full name ("Conv2d layer1.0.conv2").
func label(kind string, p *Param, suffix string) string {
	if p == nil {
		return kind
	}
	name, ok := strings.CutSuffix(p.Name, "."+suffix)
	if !ok {
		return kind
	}
	return kind + " " + name
}

// wantNCHW checks that x is a 4-D tensor and returns its dimensions.
func wantNCHW(layer string, x ops.Tensor) (n, c, h, w int) {
	if x == nil {
		misuse(layer, "input is nil")
	}
	s := x.Shape()
	if len(s) != 4 {
		misuse(layer, "input has shape %v, want [N, C, H, W]", s)
	}
	if s[0] < 1 || s[1] < 1 || s[2] < 1 || s[3] < 1 {
		misuse(layer, "input has shape %v: every dimension must be at least 1", s)
	}
	return s[0], s[1], s[2], s[3]
}

// wantInput checks that x is a 4-D tensor with c channels.
func wantInput(layer string, x ops.Tensor, c int) {
	if _, xc, _, _ := wantNCHW(layer, x); xc != c {
		misuse(layer, "input has shape %v, want [N, %d, H, W]", x.Shape(), c)
	}
}

// keepShape stores a copy of s in *dst unless *dst already equals it.
func keepShape(dst *ops.Shape, s ops.Shape) {
	if !dst.Equal(s) {
		*dst = s.Clone()
	}
}

// wantGrad checks that Backward follows a Forward, whose output y (or a tensor of its shape) and
// saved input x (or another tensor Backward reads) are still held, and that dy has the output's
// shape.
func wantGrad(layer string, dy, y, x ops.Tensor) {
	if y == nil || x == nil {
		misuse(layer, "Backward before Forward (or after its buffers were released)")
	}
	if dy == nil {
		misuse(layer, "output gradient is nil, want shape %v", y.Shape())
	}
	if !dy.Shape().Equal(y.Shape()) {
		misuse(layer, "output gradient has shape %v, want the output's %v", dy.Shape(), y.Shape())
	}
}
