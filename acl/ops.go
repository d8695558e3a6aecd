//go:build cgo

package acl

/*
#include "shim.h"
*/
import "C"

// The aclnn operators. Each has a Prepare form, which runs phase one and returns the Executor (for
// reuse: SetRepeatable, rebinding addresses), and a direct form, which runs both phases: workspace
// from a (nil is allowed when the op needs none), launch on s (nil: the default stream). Tensors,
// scalars and memory must outlive the queued kernel. Adding an op: its two symbols in RX_SYMBOLS and
// its phase-one trampoline (RX_WS) in the C shim, an opInfo and these two methods.

var (
	opAdd  = opInfo{"aclnnAdd", C.RX_SYM_aclnnAdd}
	opMuls = opInfo{"aclnnMuls", C.RX_SYM_aclnnMuls}
	opRelu = opInfo{"aclnnRelu", C.RX_SYM_aclnnRelu}
	opCast = opInfo{"aclnnCast", C.RX_SYM_aclnnCast}
)

// PrepareAdd is phase one of aclnnAdd: out = self + alpha*other (broadcasting).
func (d *Device) PrepareAdd(self, other *Tensor, alpha *Scalar, out *Tensor) (*Executor, error) {
	return d.prepare(opAdd, C.rx_ws_aclnnAdd(d.l(), d.ctx.h, d.ctx.id, self.ptr(), other.ptr(), alpha.ptr(), out.ptr()))
}

// Add runs aclnnAdd: out = self + alpha*other.
func (d *Device) Add(s *Stream, a WorkspaceAllocator, self, other *Tensor, alpha *Scalar, out *Tensor) error {
	return d.run(s, a, opAdd, C.rx_ws_aclnnAdd(d.l(), d.ctx.h, d.ctx.id, self.ptr(), other.ptr(), alpha.ptr(), out.ptr()))
}

// PrepareMuls is phase one of aclnnMuls: out = self * scalar.
func (d *Device) PrepareMuls(self *Tensor, scalar *Scalar, out *Tensor) (*Executor, error) {
	return d.prepare(opMuls, C.rx_ws_aclnnMuls(d.l(), d.ctx.h, d.ctx.id, self.ptr(), scalar.ptr(), out.ptr()))
}

// Muls runs aclnnMuls: out = self * scalar.
func (d *Device) Muls(s *Stream, a WorkspaceAllocator, self *Tensor, scalar *Scalar, out *Tensor) error {
	return d.run(s, a, opMuls, C.rx_ws_aclnnMuls(d.l(), d.ctx.h, d.ctx.id, self.ptr(), scalar.ptr(), out.ptr()))
}

// PrepareRelu is phase one of aclnnRelu: out = max(self, 0).
func (d *Device) PrepareRelu(self, out *Tensor) (*Executor, error) {
	return d.prepare(opRelu, C.rx_ws_aclnnRelu(d.l(), d.ctx.h, d.ctx.id, self.ptr(), out.ptr()))
}

// Relu runs aclnnRelu: out = max(self, 0).
func (d *Device) Relu(s *Stream, a WorkspaceAllocator, self, out *Tensor) error {
	return d.run(s, a, opRelu, C.rx_ws_aclnnRelu(d.l(), d.ctx.h, d.ctx.id, self.ptr(), out.ptr()))
}

// PrepareCast is phase one of aclnnCast: out = self converted to dt (out's type).
func (d *Device) PrepareCast(self *Tensor, dt DataType, out *Tensor) (*Executor, error) {
	return d.prepare(opCast, C.rx_ws_aclnnCast(d.l(), d.ctx.h, d.ctx.id, self.ptr(), C.int32_t(dt), out.ptr()))
}

// Cast runs aclnnCast: out = self converted to dt (out's type).
func (d *Device) Cast(s *Stream, a WorkspaceAllocator, self *Tensor, dt DataType, out *Tensor) error {
	return d.run(s, a, opCast, C.rx_ws_aclnnCast(d.l(), d.ctx.h, d.ctx.id, self.ptr(), C.int32_t(dt), out.ptr()))
}
