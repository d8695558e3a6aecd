//go:build cgo

package ascend

import "github.com/resnext/resnext/ops"

// ComputesFloat16 reports true: every kernel takes float16 tensors, batch norm with float32
// statistics and affine parameters (amp_level O2; see the package documentation).
func (b *Backend) ComputesFloat16() bool { return true }

var _ ops.Float16Compute = (*Backend)(nil)
