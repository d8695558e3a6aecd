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
	"strings"
	"unsafe"
)

// HCCL, the collective communication library (libhccl.so, hccl/hccl.h): communicators made from a
// root info or a rank table, and the collectives the data-parallel trainer needs, queued on streams.
// The library is optional: Lib.HCCL says why it is unavailable, and every call below returns that.

// HCCLResult is an HcclResult, HCCL's return code; 0 is success.
type HCCLResult int32

// HcclResult values (hccl/hccl_types.h).
const (
	HCCLSuccess         HCCLResult = 0
	HCCLErrPara         HCCLResult = 1  // a parameter is wrong
	HCCLErrPtr          HCCLResult = 2  // a pointer is NULL or not one HCCL accepts
	HCCLErrMemory       HCCLResult = 3  // memory error
	HCCLErrInternal     HCCLResult = 4  // internal error
	HCCLErrNotSupport   HCCLResult = 5  // not supported
	HCCLErrNotFound     HCCLResult = 6  // a resource was not found
	HCCLErrUnavail      HCCLResult = 7  // a resource is unavailable
	HCCLErrSyscall      HCCLResult = 8  // a system call failed
	HCCLErrTimeout      HCCLResult = 9  // timed out
	HCCLErrOpenFile     HCCLResult = 10 // a file could not be opened (a rank table)
	HCCLErrTCPConnect   HCCLResult = 11 // a TCP connection failed
	HCCLErrRoCEConnect  HCCLResult = 12 // a RoCE connection failed
	HCCLErrTCPTransfer  HCCLResult = 13 // a TCP transfer failed
	HCCLErrRoCETransfer HCCLResult = 14 // a RoCE transfer failed
	HCCLErrRuntime      HCCLResult = 15 // a runtime call failed
	HCCLErrDrv          HCCLResult = 16 // a driver call failed
	HCCLErrProfiling    HCCLResult = 17
	HCCLErrCCE          HCCLResult = 18
	HCCLErrNetwork      HCCLResult = 19 // a network call failed
	HCCLErrAgain        HCCLResult = 20 // try again
	HCCLErrRemote       HCCLResult = 21 // error completion from a remote rank
	HCCLErrSuspending   HCCLResult = 22 // the communicator is suspending
)

var hcclNames = [...]string{"HCCL_SUCCESS", "HCCL_E_PARA", "HCCL_E_PTR", "HCCL_E_MEMORY", "HCCL_E_INTERNAL",
	"HCCL_E_NOT_SUPPORT", "HCCL_E_NOT_FOUND", "HCCL_E_UNAVAIL", "HCCL_E_SYSCALL", "HCCL_E_TIMEOUT",
	"HCCL_E_OPEN_FILE_FAILURE", "HCCL_E_TCP_CONNECT", "HCCL_E_ROCE_CONNECT", "HCCL_E_TCP_TRANSFER",
	"HCCL_E_ROCE_TRANSFER", "HCCL_E_RUNTIME", "HCCL_E_DRV", "HCCL_E_PROFILING", "HCCL_E_CCE",
	"HCCL_E_NETWORK", "HCCL_E_AGAIN", "HCCL_E_REMOTE", "HCCL_E_SUSPENDING"}

// String is the code's name in hccl_types.h ("HCCL_E_TIMEOUT").
func (r HCCLResult) String() string {
	if r >= 0 && int(r) < len(hcclNames) {
		return hcclNames[r]
	}
	return "unknown HcclResult"
}

// Error makes an HCCLResult usable as an errors.Is target.
func (r HCCLResult) Error() string { return fmt.Sprintf("%s (%d)", r.String(), int32(r)) }

// HCCLDataType is an HcclDataType.
type HCCLDataType int32

// HcclDataType values (hccl/hccl_types.h).
const (
	HCCLInt8     HCCLDataType = 0
	HCCLInt16    HCCLDataType = 1
	HCCLInt32    HCCLDataType = 2
	HCCLFloat16  HCCLDataType = 3
	HCCLFloat32  HCCLDataType = 4
	HCCLInt64    HCCLDataType = 5
	HCCLUint64   HCCLDataType = 6
	HCCLUint8    HCCLDataType = 7
	HCCLUint16   HCCLDataType = 8
	HCCLUint32   HCCLDataType = 9
	HCCLFloat64  HCCLDataType = 10
	HCCLBFloat16 HCCLDataType = 11
)

// HCCLReduceOp is an HcclReduceOp.
type HCCLReduceOp int32

// HcclReduceOp values (hccl/hccl_types.h).
const (
	HCCLSum  HCCLReduceOp = 0
	HCCLProd HCCLReduceOp = 1
	HCCLMax  HCCLReduceOp = 2
	HCCLMin  HCCLReduceOp = 3
)

// HCCLError is a failed HCCL call: the function, its HcclResult, HcclGetErrorString's text for it
// and the runtime's message (aclGetRecentErrMsg, where CANN reports HCCL's errors too).
type HCCLError struct {
	// Call is the HCCL function that failed ("HcclCommInitRootInfo").
	Call string
	// Code is its HcclResult.
	Code HCCLResult
	// Text is HcclGetErrorString(Code), or "" where HCCL lacks the function.
	Text string
	// Msg is aclGetRecentErrMsg's text, possibly empty.
	Msg string
	// Detail is context this package adds (the rank, the size), possibly empty.
	Detail string
}

// Error formats as "hccl: HcclCommInitRootInfo: HCCL_E_TIMEOUT (9, "timeout"): detail: msg".
func (e *HCCLError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "hccl: %s: %s (%d", e.Call, e.Code.String(), int32(e.Code))
	if e.Text != "" {
		fmt.Fprintf(&b, ", %q", e.Text)
	}
	b.WriteString(")")
	writeDetail(&b, e.Detail, e.Msg)
	return b.String()
}

// Is reports whether target is the same HCCLResult.
func (e *HCCLError) Is(target error) bool {
	c, ok := target.(HCCLResult)
	return ok && c == e.Code
}

// checkHCCL turns an HCCL wrapper's result into an error: an *HCCLError naming call (second for
// RX_STAGE_SECOND), or for a failure to make the context current the runtime's *Error.
func (l *Lib) checkHCCL(r C.rx_ret, call, second string) error {
	if r.rc == 0 {
		return nil
	}
	if r.stage == C.RX_STAGE_CTX {
		return check(r, call, "")
	}
	e := &HCCLError{Call: call, Code: HCCLResult(r.rc)}
	if r.stage == C.RX_STAGE_SECOND {
		e.Call = second
	}
	if r.msg != nil {
		e.Msg = C.GoString(r.msg)
		C.free(unsafe.Pointer(r.msg))
	}
	if t := C.rx_hccl_error_string(l.c, r.rc); t != nil {
		e.Text = C.GoString(t)
		C.free(unsafe.Pointer(t))
	}
	return e
}

// HCCL reports whether HCCL can be used: nil when libhccl.so loaded with every symbol the binding
// needs, else a *LoadError naming what is missing and where the loader looked.
func (l *Lib) HCCL() error { return l.hcclErr }

// RootInfoBytes is the size of HCCL's root info (HCCL_ROOT_INFO_BYTES).
const RootInfoBytes = 4108

// RootInfo is HcclRootInfo: what rank 0's HcclGetRootInfo returns and every rank passes to
// NewComm, sent between the processes out of band (the job's rendezvous).
type RootInfo [RootInfoBytes]byte

// HCCLRootInfo makes the root info of a new communicator (HcclGetRootInfo) on this device's
// context: rank 0 calls it, and it hosts the meeting point the other ranks connect to.
func (d *Device) HCCLRootInfo() (*RootInfo, error) {
	l := d.Lib()
	if err := l.HCCL(); err != nil {
		return nil, err
	}
	ri := new(RootInfo)
	c := (*C.HcclRootInfo)(unsafe.Pointer(&ri[0])) // plain bytes: cgo lets C write them
	if err := l.checkHCCL(C.rx_hccl_get_root_info(d.l(), d.ctx.h, d.ctx.id, c), "HcclGetRootInfo", ""); err != nil {
		return nil, err
	}
	return ri, nil
}

// Comm is an HCCL communicator (HcclComm) of one device: one rank of a group of Size ranks.
type Comm struct {
	dev        *Device
	h          C.HcclComm
	rank, size int
}

// NewComm joins rank of a group of size ranks (HcclCommInitRootInfo) on this device, meeting the
// others at the point ri (rank 0's HCCLRootInfo) describes. It blocks until every rank arrived,
// up to HCCL's connect timeout (HCCL_CONNECT_TIMEOUT, 120 s by default).
func (d *Device) NewComm(size int, ri *RootInfo, rank int) (*Comm, error) {
	l := d.Lib()
	if err := l.HCCL(); err != nil {
		return nil, err
	}
	if size < 1 || rank < 0 || rank >= size || size > 1<<31 || ri == nil {
		return nil, &HCCLError{Call: "HcclCommInitRootInfo", Code: HCCLErrPara,
			Detail: fmt.Sprintf("rank %d of %d (want 0 <= rank < size, a root info)", rank, size)}
	}
	c := (*C.HcclRootInfo)(unsafe.Pointer(&ri[0]))
	r := C.rx_hccl_init_root_info(d.l(), d.ctx.h, d.ctx.id, C.uint32_t(size), c, C.uint32_t(rank))
	return d.newComm(r, "HcclCommInitRootInfo", fmt.Sprintf("rank %d of %d on device %d", rank, size, d.ID()))
}

// NewCommRankTable joins rank of the group a rank table describes (HcclCommInitClusterInfo): path
// is the JSON file MindSpore's RANK_TABLE_FILE names (server_list, each server's device list with
// device_id, device_ip and rank_id). The table's device of this rank must be this device.
func (d *Device) NewCommRankTable(path string, rank int) (*Comm, error) {
	l := d.Lib()
	if err := l.HCCL(); err != nil {
		return nil, err
	}
	if rank < 0 || path == "" {
		return nil, &HCCLError{Call: "HcclCommInitClusterInfo", Code: HCCLErrPara,
			Detail: fmt.Sprintf("rank %d, rank table %q (want a rank >= 0 and a file)", rank, path)}
	}
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	r := C.rx_hccl_init_cluster_info(d.l(), d.ctx.h, d.ctx.id, cp, C.uint32_t(rank))
	return d.newComm(r, "HcclCommInitClusterInfo", fmt.Sprintf("rank %d of the rank table %s on device %d", rank, path, d.ID()))
}

// newComm is the Comm of an init wrapper's result.
func (d *Device) newComm(r C.rx_ret, call, detail string) (*Comm, error) {
	l := d.Lib()
	if err := l.checkHCCL(r, call, "HcclGetRankSize/HcclGetRankId"); err != nil {
		if e, ok := err.(*HCCLError); ok {
			e.Detail = detail
		}
		if r.p != nil { // made, but its size or rank could not be read
			C.rx_hccl_comm_destroy(d.l(), d.ctx.h, d.ctx.id, C.HcclComm(r.p))
		}
		return nil, err
	}
	return &Comm{dev: d, h: C.HcclComm(r.p), size: int(r.v), rank: int(r.v2)}, nil
}

// Rank is this rank, in [0, Size), as HcclGetRankId reported it.
func (c *Comm) Rank() int { return c.rank }

// Size is the number of ranks, as HcclGetRankSize reported it.
func (c *Comm) Size() int { return c.size }

// Device is the device the communicator belongs to.
func (c *Comm) Device() *Device { return c.dev }

var errCommDestroyed = errors.New("hccl: the communicator was destroyed")

// AllReduce queues on s the reduction by op of count elements of type dt at send over every rank
// into recv (HcclAllReduce; send == recv reduces in place). Every rank must queue the same
// collectives in the same order with the same count, type and op. Synchronize s (or make another
// stream wait for an event recorded after it) to use the result.
func (c *Comm) AllReduce(send, recv Ptr, count uint64, dt HCCLDataType, op HCCLReduceOp, s *Stream) error {
	if c.h == nil {
		return errCommDestroyed
	}
	d := c.dev
	return d.Lib().checkHCCL(C.rx_hccl_all_reduce(d.l(), d.ctx.h, d.ctx.id, C.uintptr_t(send), C.uintptr_t(recv),
		C.uint64_t(count), C.int32_t(dt), C.int32_t(op), c.h, s.handle()), "HcclAllReduce", "")
}

// Broadcast queues on s the copy of root's count elements at buf to every rank's buf (HcclBroadcast).
func (c *Comm) Broadcast(buf Ptr, count uint64, dt HCCLDataType, root int, s *Stream) error {
	if c.h == nil {
		return errCommDestroyed
	}
	d := c.dev
	return d.Lib().checkHCCL(C.rx_hccl_broadcast(d.l(), d.ctx.h, d.ctx.id, C.uintptr_t(buf), C.uint64_t(count),
		C.int32_t(dt), C.uint32_t(root), c.h, s.handle()), "HcclBroadcast", "")
}

// Barrier queues on s a point every rank must reach before any passes it (HcclBarrier).
func (c *Comm) Barrier(s *Stream) error {
	if c.h == nil {
		return errCommDestroyed
	}
	d := c.dev
	return d.Lib().checkHCCL(C.rx_hccl_barrier(d.l(), d.ctx.h, d.ctx.id, c.h, s.handle()), "HcclBarrier", "")
}

// Destroy releases the communicator (HcclCommDestroy). The collectives queued with it must have
// run (synchronize their streams first). Destroying a destroyed Comm does nothing.
func (c *Comm) Destroy() error {
	if c.h == nil {
		return nil
	}
	d := c.dev
	err := d.Lib().checkHCCL(C.rx_hccl_comm_destroy(d.l(), d.ctx.h, d.ctx.id, c.h), "HcclCommDestroy", "")
	c.h = nil
	return err
}

// WaitEvent makes s wait, on the device, until the work before e's last Record has run
// (aclrtStreamWaitEvent); the host does not block. Reset e on s afterwards before recording it
// again (CANN 8.0's documented order: aclrtRecordEvent, aclrtStreamWaitEvent, aclrtResetEvent).
func (s *Stream) WaitEvent(e *Event) error {
	d := e.dev
	return check(C.rx_stream_wait_event(d.l(), d.ctx.h, d.ctx.id, s.handle(), e.h), "aclrtStreamWaitEvent", "")
}

// Reset queues the reset of e on s, the stream that waited for it (aclrtResetEvent), so that e
// can be recorded again.
func (e *Event) Reset(s *Stream) error {
	d := e.dev
	return check(C.rx_reset_event(d.l(), d.ctx.h, d.ctx.id, e.h, s.handle()), "aclrtResetEvent", "")
}
