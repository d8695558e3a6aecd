package nn

import "github.com/resnext/resnext/ops"

// Add sums two tensors of one shape: the join of a residual connection.
//
// The gradient of a + b is the output gradient for both a and b, so Add has no Backward: a residual
// block hands its output gradient to both branches and sums the two input gradients they return
// with a second Add (see the package documentation).
type Add struct {
	// InPlace makes Forward write the sum over its first operand and return it, saving a buffer, as
	// PyTorch's out += identity does. Use it only where nothing reads that operand's old value
	// afterwards: it must feed this Add alone and come from a layer whose Backward does not read
	// its own output (BatchNorm2d, Conv2d, Linear; not a ReLU).
	InPlace bool

	b ops.Backend
	y ops.Tensor
}

// NewAdd returns an Add on b that writes into its own buffer unless inPlace.
func NewAdd(b ops.Backend, inPlace bool) *Add { return &Add{InPlace: inPlace, b: b} }

// Forward returns x1 + x2: x1 itself when InPlace, else a buffer that belongs to the Add and stays
// valid until its next Forward or ReleaseBuffers.
func (a *Add) Forward(x1, x2 ops.Tensor) ops.Tensor {
	if x1 == nil || x2 == nil {
		misuse("Add", "nil operand")
	}
	if !x1.Shape().Equal(x2.Shape()) || x1.DType() != x2.DType() {
		misuse("Add", "operands %v %v and %v %v differ", x1.Shape(), x1.DType(), x2.Shape(), x2.DType())
	}
	y := x1
	if !a.InPlace {
		y = buffer(a.b, &a.y, x1.DType(), x1.Shape())
	}
	a.b.Add(x1, x2, y, 1)
	return y
}

// Free releases the buffer.
func (a *Add) Free() { a.ReleaseBuffers() }

// ReleaseBuffers gives back the output (none when InPlace).
func (a *Add) ReleaseBuffers() { freeAll(a.b, &a.y) }
