//go:build cgo

package ascend

import "github.com/resnext/resnext/ops"

// ComputesFloat16 reports true: every kernel takes float16 tensors, batch norm with float32
// statistics and affine parameters (amp_level O2; see the package documentation).
func (b *Backend) ComputesFloat16() bool { return true }

var _ ops.Float16Compute = (*Backend)(nil)

// MaxPoolNeedsFinite reports true: aclnnMaxPool2dWithMask and its backward do not take NaN or -Inf
// input (CANN's documentation), so neither does MaxPool2d here. Padding wider than aclnn's own is
// filled with the type's lowest finite value instead of -Inf for the same reason.
func (b *Backend) MaxPoolNeedsFinite() bool { return true }

var _ ops.FiniteMaxPool = (*Backend)(nil)
