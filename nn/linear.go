package nn

import "github.com/resnext/resnext/ops"

// Linear is a fully connected layer y = x W^T + b (MindSpore's Dense): "weight" [out, in] and
// "bias" [out], zero until initialised (see HeUniform).
type Linear struct {
	// Weight and Bias are the parameters, named "weight" and "bias".
	Weight, Bias *Param
	// NoInputGrad makes Backward skip the input gradient and return nil: set it when nothing below
	// the layer trains (a frozen backbone).
	NoInputGrad bool

	b        ops.Backend
	in, out  int
	x, y, dx ops.Tensor
	wc, bc   ops.Tensor // the weight and bias cast to a float16 input's dtype (see Compute type)
	dwc, dbc ops.Tensor // their gradients in that dtype, before the cast into the float32 ones
}

// NewLinear returns a fully connected layer from in to out features.
func NewLinear(b ops.Backend, in, out int) *Linear {
	if in <= 0 || out <= 0 {
		misuse("NewLinear", "in %d, out %d: want positive sizes", in, out)
	}
	return &Linear{
		Weight: newParam(b, "weight", ops.Shape{out, in}, 0, true),
		Bias:   newParam(b, "bias", ops.Shape{out}, 0, true),
		b:      b, in: in, out: out,
	}
}

func (l *Linear) name() string { return label("Linear", l.Weight, "weight") }

// Forward computes x [N, in] W^T + b into [N, out], in x's dtype: a float16 x takes float16
// copies of the weight and bias, cast from the float32 masters now.
func (l *Linear) Forward(x ops.Tensor) ops.Tensor {
	if x == nil {
		misuse(l.name(), "input is nil")
	}
	s := x.Shape()
	if len(s) != 2 || s[1] != l.in {
		misuse(l.name(), "input has shape %v, want [N, %d]", s, l.in)
	}
	w := computeCopy(l.b, l.Weight, &l.wc, x.DType())
	bias := computeCopy(l.b, l.Bias, &l.bc, x.DType())
	y := buffer(l.b, &l.y, x.DType(), ops.Shape{s[0], l.out})
	l.b.MatMul(x, w, y, false, true)
	l.b.BiasAdd(y, bias, y)
	l.x = x
	return y
}

// Backward writes dW = dy^T x and db = the sum of dy over the batch (unless frozen) and returns
// dx = dy W (nil when NoInputGrad is set). After a float16 Forward they are computed in float16,
// and dW and db are cast into the float32 gradients.
func (l *Linear) Backward(dy ops.Tensor) ops.Tensor {
	wantGrad(l.name(), dy, l.y, l.x)
	dt := l.x.DType()
	if dw := l.Weight.grad(l.b); dw != nil {
		gradInto(l.b, dw, dt, &l.dwc, func(g ops.Tensor) { l.b.MatMul(dy, l.x, g, true, false) })
	}
	if db := l.Bias.grad(l.b); db != nil {
		gradInto(l.b, db, dt, &l.dbc, func(g ops.Tensor) { l.b.BiasGrad(dy, g) })
	}
	if l.NoInputGrad {
		return nil
	}
	w := l.Weight.Value
	if w.DType() != dt {
		w = l.wc // the copy the Forward multiplied by
	}
	dx := buffer(l.b, &l.dx, dt, l.x.Shape())
	l.b.MatMul(dy, w, dx, false, false)
	return dx
}

// Params returns the weight and the bias.
func (l *Linear) Params() []*Param { return []*Param{l.Weight, l.Bias} }

// SetTraining does nothing: a linear layer behaves the same in both modes.
func (l *Linear) SetTraining(bool) {}

// Free releases the parameters, their gradients, their float16 copies and the buffers.
func (l *Linear) Free() {
	l.Weight.free(l.b)
	l.Bias.free(l.b)
	freeAll(l.b, &l.wc, &l.bc)
	l.ReleaseBuffers()
}

// ReleaseBuffers gives back the output and the input gradient, keeping the float16 copies of the
// parameters (see Compute type).
func (l *Linear) ReleaseBuffers() {
	freeAll(l.b, &l.y)
	l.ReleaseBackward()
}

// ReleaseBackward gives back the input gradient (and float16 parameter gradients) and forgets the
// input, keeping the output.
func (l *Linear) ReleaseBackward() {
	freeAll(l.b, &l.dx, &l.dwc, &l.dbc)
	l.x = nil
}
