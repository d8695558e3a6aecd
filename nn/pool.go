package nn

import (
	"fmt"
	"strings"

	"github.com/resnext/resnext/ops"
)

// PoolPadding is how a max pool pads its input. MindCV and torchvision pad the stem's max pool
// differently and get different numbers from the same weights, so a model must use the style its
// weights were trained with.
type PoolPadding string

const (
	// PoolSame is MindCV's (MindSpore's pad_mode "same", ops.SamePool): the output is
	// ceil(in/stride) and any odd padding goes at the bottom and right (for the stem's 112 -> 56,
	// one row and one column there, so the windows start at 0).
	PoolSame PoolPadding = "same"
	// PoolSymmetric is torchvision's: kernel/2 on every side (ops.Pool(3, 2, 1) for the stem; the
	// windows start at -1).
	PoolSymmetric PoolPadding = "symmetric"
)

// ParsePoolPadding reads a padding style: "same" (MindCV weights) or "symmetric" (torchvision
// weights), in any case.
func ParsePoolPadding(s string) (PoolPadding, error) {
	switch p := PoolPadding(strings.ToLower(s)); p {
	case PoolSame, PoolSymmetric:
		return p, nil
	}
	return "", fmt.Errorf("max-pool padding %q: want same (MindCV weights) or symmetric (torchvision weights)", s)
}

// NewMaxPool2dPadded returns a max pool padded in the given style: NewMaxPool2dSame, or
// NewMaxPool2d with kernel/2 on every side.
func NewMaxPool2dPadded(b ops.Backend, kernel, stride int, style PoolPadding) *MaxPool2d {
	switch style {
	case PoolSame:
		return NewMaxPool2dSame(b, kernel, stride)
	case PoolSymmetric:
		return NewMaxPool2d(b, kernel, stride, kernel/2)
	}
	misuse("NewMaxPool2dPadded", "padding style %q: want same or symmetric", style)
	return nil
}

// MaxPool2d takes the maximum over square windows, padding with -inf. The padding is either
// symmetric (torchvision's MaxPool2d(k, s, pad)) or MindCV's pad_mode "same", computed from each
// input's size (ops.SamePool): for the stem's 112 -> 56 it pads one row and column at the bottom and
// right only. The two give different numbers; use the one the weights were trained with.
type MaxPool2d struct {
	b                   ops.Backend
	kernel, stride, pad int
	same                bool
	p                   ops.Pool2dParams // of the last Forward
	xShape              ops.Shape
	x, y, mask, dx      ops.Tensor // x: the last Forward's input, which Backward reads
}

// NewMaxPool2d returns a max pool with symmetric padding, as torchvision's nn.MaxPool2d.
func NewMaxPool2d(b ops.Backend, kernel, stride, pad int) *MaxPool2d {
	if kernel <= 0 || stride <= 0 || pad < 0 || pad >= kernel {
		misuse("NewMaxPool2d", "kernel %d, stride %d, pad %d: want positive kernel and stride, 0 <= pad < kernel", kernel, stride, pad)
	}
	return &MaxPool2d{b: b, kernel: kernel, stride: stride, pad: pad}
}

// NewMaxPool2dSame returns a max pool with MindSpore's pad_mode "same": the output is
// ceil(in/stride) and the padding, computed from the input size, puts any odd row or column at the
// bottom or right.
func NewMaxPool2dSame(b ops.Backend, kernel, stride int) *MaxPool2d {
	if kernel <= 0 || stride <= 0 {
		misuse("NewMaxPool2dSame", "kernel %d, stride %d: want positive values", kernel, stride)
	}
	return &MaxPool2d{b: b, kernel: kernel, stride: stride, same: true}
}

// Forward pools x [N, C, H, W] and records the winners for Backward.
func (m *MaxPool2d) Forward(x ops.Tensor) ops.Tensor {
	n, c, h, w := wantNCHW("MaxPool2d", x)
	p := ops.Pool(m.kernel, m.stride, m.pad)
	if m.same {
		p = ops.SamePool(m.kernel, m.stride, h, w)
	}
	ho, wo := p.OutSize(h, w)
	if ho <= 0 || wo <= 0 {
		misuse("MaxPool2d", "input %v is too small for %+v", x.Shape(), p)
	}
	y := buffer(m.b, &m.y, x.DType(), ops.Shape{n, c, ho, wo})
	ms, mt := m.b.MaxPool2dMask(x.Shape(), p)
	mask := buffer(m.b, &m.mask, mt, ms)
	m.b.MaxPool2d(x, y, mask, p)
	m.p, m.x = p, x
	keepShape(&m.xShape, x.Shape())
	return y
}

// Backward routes dy to the winners of the last Forward.
func (m *MaxPool2d) Backward(dy ops.Tensor) ops.Tensor {
	wantGrad("MaxPool2d", dy, m.y, m.x)
	dx := buffer(m.b, &m.dx, dy.DType(), m.xShape)
	m.b.MaxPool2dBackward(dy, m.x, m.mask, dx, m.p)
	return dx
}

// Params returns nil: a pool has no parameters.
func (m *MaxPool2d) Params() []*Param { return nil }

// SetTraining does nothing.
func (m *MaxPool2d) SetTraining(bool) {}

// Free releases the buffers.
func (m *MaxPool2d) Free() { m.ReleaseBuffers() }

// ReleaseBuffers gives back the output, the mask and the input gradient.
func (m *MaxPool2d) ReleaseBuffers() {
	freeAll(m.b, &m.y)
	m.ReleaseBackward()
}

// ReleaseBackward gives back the mask and the input gradient and forgets the input, keeping the
// output.
func (m *MaxPool2d) ReleaseBackward() {
	freeAll(m.b, &m.mask, &m.dx)
	m.x = nil
}

// GlobalAvgPool averages each channel over its whole plane: [N, C, H, W] -> [N, C].
type GlobalAvgPool struct {
	b      ops.Backend
	xShape ops.Shape
	y, dx  ops.Tensor
}

// NewGlobalAvgPool returns a global average pool.
func NewGlobalAvgPool(b ops.Backend) *GlobalAvgPool { return &GlobalAvgPool{b: b} }

// Forward averages x [N, C, H, W] into [N, C].
func (g *GlobalAvgPool) Forward(x ops.Tensor) ops.Tensor {
	n, c, _, _ := wantNCHW("GlobalAvgPool", x)
	y := buffer(g.b, &g.y, x.DType(), ops.Shape{n, c})
	g.b.GlobalAvgPool(x, y)
	keepShape(&g.xShape, x.Shape())
	return y
}

// Backward spreads dy [N, C] evenly over the input's planes.
func (g *GlobalAvgPool) Backward(dy ops.Tensor) ops.Tensor {
	wantGrad("GlobalAvgPool", dy, g.y, g.y)
	dx := buffer(g.b, &g.dx, dy.DType(), g.xShape)
	g.b.GlobalAvgPoolBackward(dy, dx)
	return dx
}

// Params returns nil: a pool has no parameters.
func (g *GlobalAvgPool) Params() []*Param { return nil }

// SetTraining does nothing.
func (g *GlobalAvgPool) SetTraining(bool) {}

// Free releases the buffers.
func (g *GlobalAvgPool) Free() { g.ReleaseBuffers() }

// ReleaseBuffers gives back the output and the input gradient.
func (g *GlobalAvgPool) ReleaseBuffers() {
	freeAll(g.b, &g.y)
	g.ReleaseBackward()
}

// ReleaseBackward gives back the input gradient, keeping the output.
func (g *GlobalAvgPool) ReleaseBackward() { freeAll(g.b, &g.dx) }
