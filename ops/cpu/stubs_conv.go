package cpu

import "github.com/resnext/resnext/ops"

// Placeholders until the convolution and matmul kernels land; this file is deleted then.

func (b *Backend) Conv2d(x, w, y ops.Tensor, p ops.Conv2dParams) { panic("cpu: Conv2d not yet built") }
func (b *Backend) Conv2dBackward(dy, x, w, dx, dw ops.Tensor, p ops.Conv2dParams) {
	panic("cpu: Conv2dBackward not yet built")
}
func (b *Backend) MatMul(a, bb, c ops.Tensor, transA, transB bool) {
	panic("cpu: MatMul not yet built")
}
