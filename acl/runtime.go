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
	"sync/atomic"
	"unsafe"
)

// check turns a wrapper's result into an error naming call (or, for stage 1, aclrtSetCurrentContext;
// for stage 2, second), freeing the copied message.
func check(r C.rx_ret, call, second string) error {
	if r.rc == 0 && r.stage != C.RX_STAGE_NULL {
		return nil
	}
	e := &Error{Call: call, Code: Code(r.rc)}
	switch r.stage {
	case C.RX_STAGE_CTX:
		e.Call = "aclrtSetCurrentContext"
		e.Detail = "before " + call
	case C.RX_STAGE_SECOND:
		e.Call = second
	}
	if r.msg != nil {
		e.Msg = C.GoString(r.msg)
		C.free(unsafe.Pointer(r.msg))
	}
	return e
}

// Init initialises the ACL runtime (aclInit with no configuration file). It may be called more than
// once: later calls, and a runtime some other code already initialised, succeed. After Finalize it
// fails: CANN cannot initialise a second time in one process.
func (l *Lib) Init() error {
	l.initMu.Lock()
	defer l.initMu.Unlock()
	if l.finalized {
		return errors.New("acl: aclInit after aclFinalize: CANN cannot initialise the runtime a second time in one process")
	}
	if l.inited {
		return nil
	}
	err := check(C.rx_init(l.c, nil), "aclInit", "")
	if err != nil && err.(*Error).Code != ErrRepeatInitialize {
		return err
	}
	l.inited = true
	return nil
}

// Finalize shuts the runtime down (aclFinalize), once: later calls do nothing. Devices, streams and
// memory must be released first. CANN does not support initialising again in the same process, so
// Init fails after it.
func (l *Lib) Finalize() error {
	l.initMu.Lock()
	defer l.initMu.Unlock()
	if !l.inited || l.finalized {
		return nil
	}
	l.inited, l.finalized = false, true
	return check(C.rx_finalize(l.c), "aclFinalize", "")
}

// Shutdown finalises the runtime Load's libraries initialised (aclFinalize), when they were loaded
// and initialised: what a process calls once before it exits, after closing its devices. Ascend
// cannot be used in the process after it.
func Shutdown() error {
	loadOnce.Do(func() { loadErr = errNotLoaded }) // a Load after Shutdown loads nothing
	if loadLib == nil {
		return nil
	}
	return loadLib.Finalize()
}

// errNotLoaded is Load's error after Shutdown in a process that never loaded the libraries.
var errNotLoaded = errors.New("acl: the process has shut Ascend down (acl.Shutdown)")

// RecentErrMsg returns aclGetRecentErrMsg for the calling OS thread. Errors returned by this package
// already carry the message taken on the failing thread; this is for diagnostics only.
func (l *Lib) RecentErrMsg() string {
	m := C.rx_recent_err_msg(l.c)
	if m == nil {
		return ""
	}
	defer C.free(unsafe.Pointer(m))
	return C.GoString(m)
}

// SocName is the chip's name as aclrtGetSocName reports it ("Ascend910A", "Ascend910B1", ...), or ""
// when the runtime lacks the call or does not know.
func (l *Lib) SocName() string {
	m := C.rx_soc_name(l.c)
	if m == nil {
		return ""
	}
	defer C.free(unsafe.Pointer(m))
	return C.GoString(m)
}

// DeviceCount is the number of visible devices (aclrtGetDeviceCount).
func (l *Lib) DeviceCount() (int, error) {
	r := C.rx_device_count(l.c)
	if err := check(r, "aclrtGetDeviceCount", ""); err != nil {
		return 0, err
	}
	return int(r.v), nil
}

// SetDevice is the raw aclrtSetDevice: it binds the calling OS thread to device id and makes the
// device's default context current on it. Go code should use OpenDevice, which does not depend on the
// calling thread; SetDevice is for callers that lock their OS thread.
func (l *Lib) SetDevice(id int) error {
	return check(C.rx_set_device(l.c, C.int32_t(id)), "aclrtSetDevice", "")
}

// ResetDevice is the raw aclrtResetDevice, releasing what SetDevice acquired.
func (l *Lib) ResetDevice(id int) error {
	return check(C.rx_reset_device(l.c, C.int32_t(id)), "aclrtResetDevice", "")
}

// CurrentDevice is aclrtGetDevice for the calling OS thread.
func (l *Lib) CurrentDevice() (int, error) {
	r := C.rx_get_device(l.c)
	if err := check(r, "aclrtGetDevice", ""); err != nil {
		return 0, err
	}
	return int(int64(r.v)), nil
}

// ctxIDs numbers contexts; ids are never reused (0 means none).
var ctxIDs atomic.Uint64

// Context is an ACL context (aclrtContext). Create one with CreateContext, or use a Device, which
// owns one.
type Context struct {
	lib *Lib
	h   C.aclrtContext
	id  C.uint64_t
	dev int
}

// CreateContext is the raw aclrtCreateContext on device id. The new context becomes current on the
// calling OS thread. The device must have been set (SetDevice) on some thread first.
func (l *Lib) CreateContext(id int) (*Context, error) {
	r := C.rx_create_context(l.c, C.int32_t(id))
	if err := check(r, "aclrtCreateContext", ""); err != nil {
		return nil, err
	}
	return &Context{lib: l, h: C.aclrtContext(r.p), id: C.uint64_t(ctxIDs.Add(1)), dev: id}, nil
}

// SetCurrent is the raw aclrtSetCurrentContext: it makes c current on the calling OS thread only. A
// goroutine that relies on it must hold runtime.LockOSThread. Device methods do not need it.
func (c *Context) SetCurrent() error {
	return check(C.rx_set_current_context(c.lib.c, c.h, c.id), "aclrtSetCurrentContext", "")
}

// Destroy is aclrtDestroyContext.
func (c *Context) Destroy() error {
	if c.h == nil {
		return nil
	}
	err := check(C.rx_destroy_context(c.lib.c, c.h), "aclrtDestroyContext", "")
	c.h = nil
	return err
}

// Device is one Ascend device with its own context, usable from any goroutine.
//
// Threading: an ACL context is current per OS thread, and a goroutine may move between OS threads
// between any two cgo calls. Rather than locking OS threads (which would tie every caller of the
// backend to one goroutine, or cost a lock/unlock and a context switch per call), every Device method
// makes the device's context current inside the same C call as the operation, so no thread switch
// can come between them. The C side remembers, per OS thread, the context this package last made
// current there (by a number never reused), so the aclrtSetCurrentContext is issued only when the
// thread last served another context: in steady state it costs a thread-local compare. The
// remembered value is dropped by every call that changes the current context (SetDevice, ResetDevice,
// CreateContext, DestroyContext, SetCurrent, Finalize); code outside this package that changes the
// current context of a thread this package uses breaks that bookkeeping and must not be mixed in.
type Device struct {
	ctx Context
}

// OpenDevice sets device id (aclrtSetDevice) and creates a context for it (aclrtCreateContext).
// Close releases both.
func (l *Lib) OpenDevice(id int) (*Device, error) {
	r := C.rx_open_device(l.c, C.int32_t(id))
	if err := check(r, "aclrtSetDevice", "aclrtCreateContext"); err != nil {
		return nil, fmt.Errorf("acl: open device %d: %w", id, err)
	}
	return &Device{ctx: Context{lib: l, h: C.aclrtContext(r.p), id: C.uint64_t(ctxIDs.Add(1)), dev: id}}, nil
}

// ID is the device number.
func (d *Device) ID() int { return d.ctx.dev }

// Lib is the library set the device belongs to.
func (d *Device) Lib() *Lib { return d.ctx.lib }

// Context is the device's context, for raw use (Context.SetCurrent on a locked OS thread).
func (d *Device) Context() *Context { return &d.ctx }

// Close destroys the context and resets the device. Streams, events and memory of the device must be
// released first.
func (d *Device) Close() error {
	if d.ctx.h == nil {
		return nil
	}
	err := check(C.rx_close_device(d.ctx.lib.c, d.ctx.h, C.int32_t(d.ctx.dev)), "aclrtDestroyContext", "aclrtResetDevice")
	d.ctx.h = nil
	return err
}

func (d *Device) l() *C.rx_lib { return d.ctx.lib.c }

// Synchronize waits for all work queued on the device (aclrtSynchronizeDevice).
func (d *Device) Synchronize() error {
	return check(C.rx_synchronize_device(d.l(), d.ctx.h, d.ctx.id), "aclrtSynchronizeDevice", "")
}

// Stream is an ACL stream of a Device. A nil *Stream stands for the context's default stream wherever
// a stream is taken.
type Stream struct {
	dev *Device
	h   C.aclrtStream
}

// NewStream creates a stream (aclrtCreateStream).
func (d *Device) NewStream() (*Stream, error) {
	r := C.rx_create_stream(d.l(), d.ctx.h, d.ctx.id)
	if err := check(r, "aclrtCreateStream", ""); err != nil {
		return nil, err
	}
	return &Stream{dev: d, h: C.aclrtStream(r.p)}, nil
}

func (s *Stream) handle() C.aclrtStream {
	if s == nil {
		return nil
	}
	return s.h
}

// Synchronize waits for the work queued on s (aclrtSynchronizeStream).
func (s *Stream) Synchronize() error {
	return check(C.rx_synchronize_stream(s.dev.l(), s.dev.ctx.h, s.dev.ctx.id, s.h), "aclrtSynchronizeStream", "")
}

// Destroy is aclrtDestroyStream.
func (s *Stream) Destroy() error {
	if s.h == nil {
		return nil
	}
	err := check(C.rx_destroy_stream(s.dev.l(), s.dev.ctx.h, s.dev.ctx.id, s.h), "aclrtDestroyStream", "")
	s.h = nil
	return err
}

// Event is an ACL event, for waiting on a point in a stream.
type Event struct {
	dev *Device
	h   C.aclrtEvent
}

// NewEvent creates an event (aclrtCreateEvent).
func (d *Device) NewEvent() (*Event, error) {
	r := C.rx_create_event(d.l(), d.ctx.h, d.ctx.id)
	if err := check(r, "aclrtCreateEvent", ""); err != nil {
		return nil, err
	}
	return &Event{dev: d, h: C.aclrtEvent(r.p)}, nil
}

// Record records e at the current end of stream s (aclrtRecordEvent); nil is the default stream.
func (e *Event) Record(s *Stream) error {
	return check(C.rx_record_event(e.dev.l(), e.dev.ctx.h, e.dev.ctx.id, e.h, s.handle()), "aclrtRecordEvent", "")
}

// Synchronize waits until the work before the last Record has finished (aclrtSynchronizeEvent).
func (e *Event) Synchronize() error {
	return check(C.rx_synchronize_event(e.dev.l(), e.dev.ctx.h, e.dev.ctx.id, e.h), "aclrtSynchronizeEvent", "")
}

// Destroy is aclrtDestroyEvent.
func (e *Event) Destroy() error {
	if e.h == nil {
		return nil
	}
	err := check(C.rx_destroy_event(e.dev.l(), e.dev.ctx.h, e.dev.ctx.id, e.h), "aclrtDestroyEvent", "")
	e.h = nil
	return err
}

// Malloc allocates n bytes of device memory, huge pages first (aclrtMalloc, ACL_MEM_MALLOC_HUGE_FIRST).
func (d *Device) Malloc(n uint64) (Ptr, error) {
	return d.MallocPolicy(n, HugeFirst)
}

// MallocPolicy is aclrtMalloc with an explicit policy.
func (d *Device) MallocPolicy(n uint64, policy MallocPolicy) (Ptr, error) {
	r := C.rx_malloc(d.l(), d.ctx.h, d.ctx.id, C.size_t(n), C.int32_t(policy))
	if err := check(r, "aclrtMalloc", ""); err != nil {
		err.(*Error).Detail = fmt.Sprintf("%d bytes on device %d", n, d.ID())
		return 0, err
	}
	return Ptr(r.v), nil
}

// Free releases device memory from Malloc (aclrtFree). Freeing 0 does nothing. Work that uses p must
// have finished.
func (d *Device) Free(p Ptr) error {
	if p == 0 {
		return nil
	}
	return check(C.rx_free(d.l(), d.ctx.h, d.ctx.id, C.uintptr_t(p)), "aclrtFree", "")
}

// MallocHost allocates n bytes of pinned host memory (aclrtMallocHost), the host side of
// asynchronous copies.
func (d *Device) MallocHost(n uint64) (Ptr, error) {
	r := C.rx_malloc_host(d.l(), d.ctx.h, d.ctx.id, C.size_t(n))
	if err := check(r, "aclrtMallocHost", ""); err != nil {
		err.(*Error).Detail = fmt.Sprintf("%d bytes", n)
		return 0, err
	}
	return Ptr(r.v), nil
}

// FreeHost releases memory from MallocHost (aclrtFreeHost). Freeing 0 does nothing.
func (d *Device) FreeHost(p Ptr) error {
	if p == 0 {
		return nil
	}
	return check(C.rx_free_host(d.l(), d.ctx.h, d.ctx.id, C.uintptr_t(p)), "aclrtFreeHost", "")
}

// Memcpy copies n bytes from src to dst synchronously (aclrtMemcpy); kind says where each lives.
// Both are addresses outside Go memory (device memory, or MallocHost memory). Copying 0 bytes does
// nothing.
func (d *Device) Memcpy(dst, src Ptr, n uint64, kind MemcpyKind) error {
	if n == 0 {
		return nil
	}
	return check(C.rx_memcpy(d.l(), d.ctx.h, d.ctx.id, C.uintptr_t(dst), C.size_t(n), C.uintptr_t(src),
		C.size_t(n), C.int32_t(kind)), "aclrtMemcpy", "")
}

// CopyToDevice copies the bytes of src (Go memory) to device memory at dst, synchronously.
func (d *Device) CopyToDevice(dst Ptr, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	return check(C.rx_copy_to_device(d.l(), d.ctx.h, d.ctx.id, C.uintptr_t(dst), unsafe.Pointer(&src[0]),
		C.size_t(len(src))), "aclrtMemcpy", "")
}

// CopyToHost copies len(dst) bytes of device memory at src into dst (Go memory), synchronously. It
// does not wait for queued work on any stream: synchronize first.
func (d *Device) CopyToHost(dst []byte, src Ptr) error {
	if len(dst) == 0 {
		return nil
	}
	return check(C.rx_copy_to_host(d.l(), d.ctx.h, d.ctx.id, unsafe.Pointer(&dst[0]), C.uintptr_t(src),
		C.size_t(len(dst))), "aclrtMemcpy", "")
}

// MemcpyAsync queues a copy of n bytes on s (aclrtMemcpyAsync). Host addresses must be MallocHost
// memory (never Go memory: the copy runs after the call returns) and must stay valid until the stream
// has passed the copy.
func (s *Stream) MemcpyAsync(dst, src Ptr, n uint64, kind MemcpyKind) error {
	if n == 0 {
		return nil
	}
	d := s.dev
	return check(C.rx_memcpy_async(d.l(), d.ctx.h, d.ctx.id, C.uintptr_t(dst), C.size_t(n), C.uintptr_t(src),
		C.size_t(n), C.int32_t(kind), s.h), "aclrtMemcpyAsync", "")
}

// Memset sets n bytes at device address p to value, synchronously (aclrtMemset).
func (d *Device) Memset(p Ptr, n uint64, value byte) error {
	if n == 0 {
		return nil
	}
	return check(C.rx_memset(d.l(), d.ctx.h, d.ctx.id, C.uintptr_t(p), C.size_t(n), C.int32_t(value), C.size_t(n)),
		"aclrtMemset", "")
}

// MemsetAsync queues setting n bytes at device address p to value on s (aclrtMemsetAsync).
func (s *Stream) MemsetAsync(p Ptr, n uint64, value byte) error {
	if n == 0 {
		return nil
	}
	d := s.dev
	return check(C.rx_memset_async(d.l(), d.ctx.h, d.ctx.id, C.uintptr_t(p), C.size_t(n), C.int32_t(value),
		C.size_t(n), s.h), "aclrtMemsetAsync", "")
}

// MemInfo reports free and total bytes of one kind of memory (aclrtGetMemInfo); HBMMem is the
// device's main memory.
func (d *Device) MemInfo(attr MemAttr) (free, total uint64, err error) {
	r := C.rx_get_mem_info(d.l(), d.ctx.h, d.ctx.id, C.int32_t(attr))
	if err := check(r, "aclrtGetMemInfo", ""); err != nil {
		return 0, 0, err
	}
	return uint64(r.v), uint64(r.v2), nil
}
