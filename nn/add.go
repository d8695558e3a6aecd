package nn

import "github.com/resnext/resnext/ops"

// Add sums two tensors of one shape into a buffer it owns: the join of a residual connection.
//
// The gradient of a + b is the output gradient for both a and b, so Add has no Backward: a residual
// block hands its output gradient to both branches and sums the two input gradients they return
// with a second Add (see the package documentation).
type Add struct {
	b ops.Backend
	y ops.Tensor
}

// NewAdd returns an Add on b.
func NewAdd(b ops.Backend) *Add { return &Add{b: b} }

// Forward returns x1 + x2. The result belongs to the Add and stays valid until its next Forward.
func (a *Add) Forward(x1, x2 ops.Tensor) ops.Tensor {
	if x1 == nil || x2 == nil {
		misuse("Add", "nil operand")
	}
	if !x1.Shape().Equal(x2.Shape()) || x1.DType() != x2.DType() {
		misuse("Add", "operands %v %v and %v %v differ", x1.Shape(), x1.DType(), x2.Shape(), x2.DType())
	}
	y := buffer(a.b, &a.y, x1.DType(), x1.Shape())
	a.b.Add(x1, x2, y, 1)
	return y
}

// Free releases the buffer.
func (a *Add) Free() { a.ReleaseBuffers() }

// ReleaseBuffers gives back the output.
func (a *Add) ReleaseBuffers() { freeAll(a.b, &a.y) }
