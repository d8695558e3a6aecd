package nn

import "github.com/resnext/resnext/ops"

// ReLU is max(x, 0).
type ReLU struct {
	// InPlace makes Forward write the output over x and Backward write the input gradient over dy,
	// saving two buffers. Use it only where nothing else reads x or dy afterwards: x must feed this
	// ReLU alone and come from a layer whose Backward does not read its own output (BatchNorm2d,
	// Conv2d, Linear, Add; not another ReLU), and dy must not be shared with another layer.
	InPlace bool

	b        ops.Backend
	y, owned ops.Tensor // y is the last output: owned, or the input itself when InPlace
	dx       ops.Tensor
}

// NewReLU returns a ReLU that writes into its own buffers unless inPlace.
func NewReLU(b ops.Backend, inPlace bool) *ReLU { return &ReLU{InPlace: inPlace, b: b} }

// Forward computes max(x, 0), into x itself when InPlace.
func (r *ReLU) Forward(x ops.Tensor) ops.Tensor {
	if x == nil {
		misuse("ReLU", "input is nil")
	}
	y := x
	if !r.InPlace {
		y = buffer(r.b, &r.owned, x.DType(), x.Shape())
	}
	r.b.ReLU(x, y)
	r.y = y
	return y
}

// Backward passes dy where the output was positive, into dy itself when InPlace.
func (r *ReLU) Backward(dy ops.Tensor) ops.Tensor {
	wantGrad("ReLU", dy, r.y, r.y)
	dx := dy
	if !r.InPlace {
		dx = buffer(r.b, &r.dx, dy.DType(), dy.Shape())
	}
	r.b.ReLUBackward(dy, r.y, dx)
	return dx
}

// Params returns nil: a ReLU has no parameters.
func (r *ReLU) Params() []*Param { return nil }

// SetTraining does nothing.
func (r *ReLU) SetTraining(bool) {}

// Free releases the buffers.
func (r *ReLU) Free() { r.ReleaseBuffers() }

// ReleaseBuffers gives back the output (when not in place) and the input gradient.
func (r *ReLU) ReleaseBuffers() {
	freeAll(r.b, &r.owned)
	r.y = nil
	r.ReleaseBackward()
}

// ReleaseBackward gives back the input gradient, keeping the output (which Backward reads).
func (r *ReLU) ReleaseBackward() { freeAll(r.b, &r.dx) }
