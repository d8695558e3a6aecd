package nn

import "github.com/resnext/resnext/ops"

// Conv2d is a 2-D convolution without bias (every convolution of a ResNeXt): square kernel,
// symmetric zero padding, stride and groups. Its one parameter is "weight" [out, in/groups, k, k],
// zero until initialised (see HeNormal).
type Conv2d struct {
	// Weight is the kernel, named "weight".
	Weight *Param
	// NoInputGrad makes Backward skip the input gradient and return nil: set it on the first layer
	// of a network, whose input is the data.
	NoInputGrad bool

	b        ops.Backend
	in, out  int
	p        ops.Conv2dParams
	x, y, dx ops.Tensor
	wc, dwc  ops.Tensor // the weight and its gradient in a float16 input's dtype (see Compute type)
}

// NewConv2d returns a convolution from in to out channels with a kernel x kernel window.
func NewConv2d(b ops.Backend, in, out, kernel, stride, pad, groups int) *Conv2d {
	if in <= 0 || out <= 0 || kernel <= 0 || stride <= 0 || pad < 0 || groups <= 0 || in%groups != 0 || out%groups != 0 {
		misuse("NewConv2d", "bad geometry: in %d, out %d, kernel %d, stride %d, pad %d, groups %d "+
			"(want positive sizes and channels divisible by groups)", in, out, kernel, stride, pad, groups)
	}
	return &Conv2d{
		Weight: newParam(b, "weight", ops.Shape{out, in / groups, kernel, kernel}, 0, true),
		b:      b, in: in, out: out,
		p: ops.Conv(stride, pad, groups),
	}
}

func (c *Conv2d) name() string { return label("Conv2d", c.Weight, "weight") }

// Forward computes the convolution of x [N, in, H, W] into [N, out, P, Q], in x's dtype: a
// float16 x convolves with a float16 copy of the weight, cast from the float32 master now.
func (c *Conv2d) Forward(x ops.Tensor) ops.Tensor {
	wantInput(c.name(), x, c.in)
	s, k := x.Shape(), c.Weight.Value.Shape()[2]
	p, q := c.p.OutSize(s[2], s[3], k, k)
	if p <= 0 || q <= 0 {
		misuse(c.name(), "input %v is too small for a %dx%d kernel with %+v", s, k, k, c.p)
	}
	w := computeCopy(c.b, c.Weight, &c.wc, x.DType())
	y := buffer(c.b, &c.y, x.DType(), ops.Shape{s[0], c.out, p, q})
	c.b.Conv2d(x, w, y, c.p)
	c.x = x
	return y
}

// Backward writes the weight gradient (unless frozen) and returns the input gradient (nil when
// NoInputGrad is set). After a float16 Forward both are computed in float16, and the weight
// gradient is cast into the float32 Weight.Grad.
func (c *Conv2d) Backward(dy ops.Tensor) ops.Tensor {
	wantGrad(c.name(), dy, c.y, c.x)
	dt := c.x.DType()
	var dx ops.Tensor
	if !c.NoInputGrad {
		dx = buffer(c.b, &c.dx, dt, c.x.Shape())
	}
	if dw := c.Weight.grad(c.b); dx != nil || dw != nil {
		w := c.Weight.Value
		if w.DType() != dt {
			w = c.wc // the copy the Forward convolved with
		}
		gradInto(c.b, dw, dt, &c.dwc, func(g ops.Tensor) { c.b.Conv2dBackward(dy, c.x, w, dx, g, c.p) })
	}
	return dx
}

// Params returns the weight.
func (c *Conv2d) Params() []*Param { return []*Param{c.Weight} }

// SetTraining does nothing: a convolution behaves the same in both modes.
func (c *Conv2d) SetTraining(bool) {}

// Free releases the weight, its gradient, its float16 copy and the buffers.
func (c *Conv2d) Free() {
	c.Weight.free(c.b)
	freeAll(c.b, &c.wc)
	c.ReleaseBuffers()
}

// ReleaseBuffers gives back the output and the input gradient, keeping the weight's float16 copy
// (see Compute type).
func (c *Conv2d) ReleaseBuffers() {
	freeAll(c.b, &c.y)
	c.ReleaseBackward()
}

// ReleaseBackward gives back the input gradient (and a float16 weight gradient) and forgets the
// input, keeping the output.
func (c *Conv2d) ReleaseBackward() {
	freeAll(c.b, &c.dx, &c.dwc)
	c.x = nil
}
