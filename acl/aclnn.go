//go:build cgo

package acl

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// Tensor is an aclnn tensor descriptor (aclTensor): shape, strides, type and format over device
// memory it does not own. Descriptors are host objects; create them from any goroutine. A descriptor
// and its memory must stay alive until the kernels queued with it have finished.
type Tensor struct {
	lib *Lib
	h   *C.aclTensor
}

func tensorPtrs(v []int64) *C.int64_t {
	if len(v) == 0 {
		return nil
	}
	return (*C.int64_t)(unsafe.Pointer(&v[0]))
}

// NewTensor describes a contiguous row-major tensor of type dt and shape dims at device address data:
// strides from the shape, offset 0, format NCHW for 4-D and ND otherwise, storage one dimension of
// the element count.
func (l *Lib) NewTensor(dt DataType, dims []int64, data Ptr) (*Tensor, error) {
	strides := make([]int64, len(dims))
	n := int64(1)
	for i := len(dims) - 1; i >= 0; i-- {
		strides[i] = n
		n *= dims[i]
	}
	return l.NewTensorView(dt, dims, strides, 0, FormatFor(len(dims)), []int64{n}, data)
}

// NewTensorView is aclCreateTensor in full: view dims, strides and offset in elements, the format,
// and the storage dims (usually one dimension, the element count of the storage).
func (l *Lib) NewTensorView(dt DataType, dims, strides []int64, offset int64, format Format, storage []int64, data Ptr) (*Tensor, error) {
	if len(strides) != len(dims) {
		return nil, fmt.Errorf("acl: aclCreateTensor: %d strides for %d dims", len(strides), len(dims))
	}
	r := C.rx_create_tensor(l.c, tensorPtrs(dims), C.uint64_t(len(dims)), C.int32_t(dt), tensorPtrs(strides),
		C.int64_t(offset), C.int32_t(format), tensorPtrs(storage), C.uint64_t(len(storage)), C.uintptr_t(data))
	if err := check(r, "aclCreateTensor", ""); err != nil {
		err.(*Error).Detail = fmt.Sprintf("%v %v strides %v offset %d storage %v", dt, dims, strides, offset, storage)
		return nil, err
	}
	return &Tensor{lib: l, h: (*C.aclTensor)(r.p)}, nil
}

func (t *Tensor) ptr() *C.aclTensor {
	if t == nil {
		return nil
	}
	return t.h
}

// SetAddr points the descriptor at another device address (aclSetRawTensorAddr; optional in older
// CANN, then it returns an error wrapping ErrUnsupported).
func (t *Tensor) SetAddr(p Ptr) error {
	if !t.lib.Has("aclSetRawTensorAddr") {
		return fmt.Errorf("acl: aclSetRawTensorAddr: %w", ErrUnsupported)
	}
	return check(C.rx_set_raw_tensor_addr(t.lib.c, t.h, C.uintptr_t(p)), "aclSetRawTensorAddr", "")
}

// Destroy is aclDestroyTensor. Destroying twice, or a nil Tensor, does nothing.
func (t *Tensor) Destroy() error {
	if t == nil || t.h == nil {
		return nil
	}
	err := check(C.rx_destroy_tensor(t.lib.c, t.h), "aclDestroyTensor", "")
	t.h = nil
	return err
}

// Scalar is an aclnn scalar (aclScalar), a host value passed to an op.
type Scalar struct {
	lib *Lib
	h   *C.aclScalar
}

func (l *Lib) newScalar(p unsafe.Pointer, dt DataType) (*Scalar, error) {
	r := C.rx_create_scalar(l.c, p, C.int32_t(dt))
	if err := check(r, "aclCreateScalar", ""); err != nil {
		err.(*Error).Detail = dt.String()
		return nil, err
	}
	return &Scalar{lib: l, h: (*C.aclScalar)(r.p)}, nil
}

// NewScalarFloat32 is aclCreateScalar of an ACL_FLOAT.
func (l *Lib) NewScalarFloat32(v float32) (*Scalar, error) {
	return l.newScalar(unsafe.Pointer(&v), Float32)
}

// NewScalarFloat64 is aclCreateScalar of an ACL_DOUBLE.
func (l *Lib) NewScalarFloat64(v float64) (*Scalar, error) {
	return l.newScalar(unsafe.Pointer(&v), Float64)
}

// NewScalarInt64 is aclCreateScalar of an ACL_INT64.
func (l *Lib) NewScalarInt64(v int64) (*Scalar, error) { return l.newScalar(unsafe.Pointer(&v), Int64) }

func (s *Scalar) ptr() *C.aclScalar {
	if s == nil {
		return nil
	}
	return s.h
}

// Destroy is aclDestroyScalar. Destroying twice, or a nil Scalar, does nothing.
func (s *Scalar) Destroy() error {
	if s == nil || s.h == nil {
		return nil
	}
	err := check(C.rx_destroy_scalar(s.lib.c, s.h), "aclDestroyScalar", "")
	s.h = nil
	return err
}

// IntArray is an aclnn int64 array (aclIntArray): strides, paddings, dims.
type IntArray struct {
	lib *Lib
	h   *C.aclIntArray
}

// NewIntArray is aclCreateIntArray (the values are copied).
func (l *Lib) NewIntArray(v []int64) (*IntArray, error) {
	r := C.rx_create_int_array(l.c, tensorPtrs(v), C.uint64_t(len(v)))
	if err := check(r, "aclCreateIntArray", ""); err != nil {
		err.(*Error).Detail = fmt.Sprint(v)
		return nil, err
	}
	return &IntArray{lib: l, h: (*C.aclIntArray)(r.p)}, nil
}

func (a *IntArray) ptr() *C.aclIntArray {
	if a == nil {
		return nil
	}
	return a.h
}

// Destroy is aclDestroyIntArray. Destroying twice, or a nil IntArray, does nothing.
func (a *IntArray) Destroy() error {
	if a == nil || a.h == nil {
		return nil
	}
	err := check(C.rx_destroy_int_array(a.lib.c, a.h), "aclDestroyIntArray", "")
	a.h = nil
	return err
}

// BoolArray is an aclnn bool array (aclBoolArray): output masks.
type BoolArray struct {
	lib *Lib
	h   *C.aclBoolArray
}

// NewBoolArray is aclCreateBoolArray (the values are copied).
func (l *Lib) NewBoolArray(v []bool) (*BoolArray, error) {
	cv := make([]C.bool, len(v))
	for i, b := range v {
		cv[i] = C.bool(b)
	}
	var p *C.bool
	if len(cv) > 0 {
		p = &cv[0]
	}
	r := C.rx_create_bool_array(l.c, p, C.uint64_t(len(v)))
	if err := check(r, "aclCreateBoolArray", ""); err != nil {
		err.(*Error).Detail = fmt.Sprint(v)
		return nil, err
	}
	return &BoolArray{lib: l, h: (*C.aclBoolArray)(r.p)}, nil
}

func (a *BoolArray) ptr() *C.aclBoolArray {
	if a == nil {
		return nil
	}
	return a.h
}

// Destroy is aclDestroyBoolArray. Destroying twice, or a nil BoolArray, does nothing.
func (a *BoolArray) Destroy() error {
	if a == nil || a.h == nil {
		return nil
	}
	err := check(C.rx_destroy_bool_array(a.lib.c, a.h), "aclDestroyBoolArray", "")
	a.h = nil
	return err
}

// WorkspaceAllocator provides the device workspace of aclnn launches. The caching allocator of the
// Ascend backend implements it; StreamWorkspace is a simple one.
type WorkspaceAllocator interface {
	// Workspace returns at least size (> 0) bytes of device memory for one launch queued on s (nil:
	// the default stream). The memory must stay valid, and not be handed to work on another stream,
	// until the launch has run: launches on the same stream run in order, so one buffer may serve
	// every launch of a stream.
	Workspace(size uint64, s *Stream) (Ptr, error)
}

// StreamWorkspace is a WorkspaceAllocator for launches on one stream: a single buffer, grown when a
// launch needs more (after synchronizing the stream, so the old buffer is no longer in use).
type StreamWorkspace struct {
	dev  *Device
	mu   sync.Mutex
	p    Ptr
	size uint64
}

// NewStreamWorkspace returns an empty StreamWorkspace on d.
func NewStreamWorkspace(d *Device) *StreamWorkspace { return &StreamWorkspace{dev: d} }

// Workspace implements WorkspaceAllocator.
func (w *StreamWorkspace) Workspace(size uint64, s *Stream) (Ptr, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if size <= w.size {
		return w.p, nil
	}
	if w.p != 0 {
		var err error
		if s != nil {
			err = s.Synchronize()
		} else {
			err = w.dev.Synchronize()
		}
		if err != nil {
			return 0, err
		}
		if err := w.dev.Free(w.p); err != nil {
			return 0, err
		}
		w.p, w.size = 0, 0
	}
	size = (size + 511) &^ 511
	p, err := w.dev.Malloc(size)
	if err != nil {
		return 0, err
	}
	w.p, w.size = p, size
	return p, nil
}

// Release frees the buffer; the work that used it must have finished.
func (w *StreamWorkspace) Release() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.dev.Free(w.p)
	w.p, w.size = 0, 0
	return err
}

// opInfo names an aclnn op and its launch symbol.
type opInfo struct {
	name   string
	launch C.int
}

// Executor is the result of an op's first phase (aclOpExecutor) and its workspace size. It is
// launched once, which consumes it, unless made repeatable.
type Executor struct {
	dev        *Device
	op         opInfo
	h          *C.aclOpExecutor
	ws         uint64
	repeatable bool
}

// prepare runs the result of an op's phase-one trampoline into an Executor.
func (d *Device) prepare(op opInfo, r C.rx_ret) (*Executor, error) {
	if err := check(r, op.name+"GetWorkspaceSize", ""); err != nil {
		err.(*Error).Op = op.name
		return nil, err
	}
	if r.p == nil {
		return nil, &Error{Op: op.name, Call: op.name + "GetWorkspaceSize", Detail: "succeeded without an executor"}
	}
	return &Executor{dev: d, op: op, h: (*C.aclOpExecutor)(r.p), ws: uint64(r.v)}, nil
}

// run is the whole two-phase call: phase one's result r, workspace from a, launch on s.
func (d *Device) run(s *Stream, a WorkspaceAllocator, op opInfo, r C.rx_ret) error {
	e, err := d.prepare(op, r)
	if err != nil {
		return err
	}
	return e.Run(s, a)
}

// Op is the aclnn operator's name ("aclnnAdd").
func (e *Executor) Op() string { return e.op.name }

// WorkspaceSize is the device workspace the launch needs, in bytes.
func (e *Executor) WorkspaceSize() uint64 { return e.ws }

// SetRepeatable lets the executor be launched any number of times until Destroy
// (aclSetAclOpExecutorRepeatable; optional in older CANN).
func (e *Executor) SetRepeatable() error {
	if !e.dev.Lib().Has("aclSetAclOpExecutorRepeatable") {
		return fmt.Errorf("acl: %s: aclSetAclOpExecutorRepeatable: %w", e.op.name, ErrUnsupported)
	}
	if err := check(C.rx_set_executor_repeatable(e.dev.l(), e.h), "aclSetAclOpExecutorRepeatable", ""); err != nil {
		err.(*Error).Op = e.op.name
		return err
	}
	e.repeatable = true
	return nil
}

// SetInputAddr rebinds input tensor index (counted over the op's tensor inputs in argument order) of a
// repeatable executor to device address p (aclSetInputTensorAddr; optional in older CANN).
func (e *Executor) SetInputAddr(index int, t *Tensor, p Ptr) error {
	if !e.dev.Lib().Has("aclSetInputTensorAddr") {
		return fmt.Errorf("acl: %s: aclSetInputTensorAddr: %w", e.op.name, ErrUnsupported)
	}
	if err := check(C.rx_set_input_tensor_addr(e.dev.l(), e.h, C.size_t(index), t.ptr(), C.uintptr_t(p)), "aclSetInputTensorAddr", ""); err != nil {
		err.(*Error).Op = e.op.name
		err.(*Error).Detail = fmt.Sprintf("input %d", index)
		return err
	}
	return nil
}

// SetOutputAddr rebinds output tensor index of a repeatable executor (aclSetOutputTensorAddr).
func (e *Executor) SetOutputAddr(index int, t *Tensor, p Ptr) error {
	if !e.dev.Lib().Has("aclSetOutputTensorAddr") {
		return fmt.Errorf("acl: %s: aclSetOutputTensorAddr: %w", e.op.name, ErrUnsupported)
	}
	if err := check(C.rx_set_output_tensor_addr(e.dev.l(), e.h, C.size_t(index), t.ptr(), C.uintptr_t(p)), "aclSetOutputTensorAddr", ""); err != nil {
		err.(*Error).Op = e.op.name
		err.(*Error).Detail = fmt.Sprintf("output %d", index)
		return err
	}
	return nil
}

// Launch queues the op on s (nil: the default stream) with workspace (NULL when WorkspaceSize is 0).
// A non-repeatable executor is consumed by the launch, whether or not it succeeds.
func (e *Executor) Launch(s *Stream, workspace Ptr) error {
	if e.h == nil {
		return fmt.Errorf("acl: %s: executor already launched or destroyed", e.op.name)
	}
	if e.ws > 0 && workspace == 0 {
		return fmt.Errorf("acl: %s: launch without the %d-byte workspace it needs", e.op.name, e.ws)
	}
	r := C.rx_launch(e.dev.l(), e.dev.ctx.h, e.dev.ctx.id, e.op.launch, C.uintptr_t(workspace), C.uint64_t(e.ws), e.h, s.handle())
	if !e.repeatable {
		e.h = nil
	}
	if err := check(r, e.op.name, ""); err != nil {
		err.(*Error).Op = e.op.name
		return err
	}
	return nil
}

// Bind is one operand of a repeatable executor to point at a new address (RunRebound): the tensor
// the executor was built with and its input and output index (-1 when it is not one; an in-place
// operator's selfRef is both).
type Bind struct {
	Tensor  *Tensor
	Addr    Ptr
	In, Out int
}

// BindBuf is scratch for RunRebound.
type BindBuf struct{ b []C.rx_bind }

// RunRebound rebinds the operands in binds and launches the repeatable executor on s with workspace
// from a, in one call into the C layer (a kernel that is replayed every step pays one crossing, not
// one per operand). buf is scratch the caller may pass back each time to avoid an allocation (nil:
// none).
func (e *Executor) RunRebound(s *Stream, a WorkspaceAllocator, binds []Bind, buf *BindBuf) error {
	if e.h == nil || !e.repeatable {
		return fmt.Errorf("acl: %s: RunRebound needs a live repeatable executor", e.op.name)
	}
	ws, err := e.workspace(s, a)
	if err != nil {
		return err
	}
	if buf == nil {
		buf = &BindBuf{}
	}
	cb := buf.b[:0]
	for _, b := range binds {
		cb = append(cb, C.rx_bind{t: b.Tensor.ptr(), addr: C.uintptr_t(b.Addr), in: C.int32_t(b.In), out: C.int32_t(b.Out)})
	}
	buf.b = cb
	var p *C.rx_bind
	if len(cb) > 0 {
		p = &cb[0]
	}
	r := C.rx_rebind_launch(e.dev.l(), e.dev.ctx.h, e.dev.ctx.id, e.op.launch, C.uintptr_t(ws), C.uint64_t(e.ws), e.h,
		s.handle(), p, C.size_t(len(cb)))
	if r.rc != 0 && r.stage == C.RX_STAGE_CALL {
		call, side := "aclSetInputTensorAddr", binds[r.v].In
		if r.v2 == 1 {
			call, side = "aclSetOutputTensorAddr", binds[r.v].Out
		}
		err := check(r, call, "")
		err.(*Error).Op = e.op.name
		err.(*Error).Detail = fmt.Sprintf("operand %d (index %d)", r.v, side)
		return err
	}
	if err := check(r, "", e.op.name); err != nil {
		err.(*Error).Op = e.op.name
		return err
	}
	return nil
}

// Run gets the workspace from a (which may be nil when WorkspaceSize is 0) and launches on s.
func (e *Executor) Run(s *Stream, a WorkspaceAllocator) error {
	ws, err := e.workspace(s, a)
	if err != nil {
		e.Destroy()
		return err
	}
	return e.Launch(s, ws)
}

// workspace gets the launch's workspace from a (0 when the executor needs none).
func (e *Executor) workspace(s *Stream, a WorkspaceAllocator) (Ptr, error) {
	if e.ws == 0 {
		return 0, nil
	}
	if a == nil {
		return 0, fmt.Errorf("acl: %s: needs %d bytes of workspace and no allocator was given", e.op.name, e.ws)
	}
	ws, err := a.Workspace(e.ws, s)
	if err != nil {
		return 0, fmt.Errorf("acl: %s: workspace of %d bytes: %w", e.op.name, e.ws, err)
	}
	return ws, nil
}

// Destroy releases an executor that will not be launched (again): a repeatable one, or one whose
// launch never happened (aclDestroyAclOpExecutor). After a launch that consumed it, it does nothing.
func (e *Executor) Destroy() error {
	if e.h == nil {
		return nil
	}
	err := check(C.rx_destroy_executor(e.dev.l(), e.h), "aclDestroyAclOpExecutor", "")
	e.h = nil
	if err != nil {
		var ae *Error
		if errors.As(err, &ae) {
			ae.Op = e.op.name
		}
	}
	return err
}
