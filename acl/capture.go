//go:build cgo

package acl

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// CaptureMode is aclmdlRICaptureMode: what a capture forbids outside the captured stream while it
// lasts.
type CaptureMode int32

const (
	// CaptureGlobal refuses synchronous memory calls (Memcpy, CopyToDevice, CopyToHost, Memset) on
	// every thread of the process (ACL_MODEL_RI_CAPTURE_MODE_GLOBAL).
	CaptureGlobal CaptureMode = 0
	// CaptureThreadLocal refuses them on the capturing thread only.
	CaptureThreadLocal CaptureMode = 1
	// CaptureRelaxed allows them: they run at once and are not captured.
	CaptureRelaxed CaptureMode = 2
)

// Runtime error codes of graph capture (rt_error_codes.h).
const (
	ErrRTModelContext           Code = 107004 // a graph replayed on a stream of another context
	ErrRTStreamCaptured         Code = 107027 // the stream is capturing
	ErrRTEventCaptured          Code = 107028 // the event was recorded into a capture in progress
	ErrRTStreamNotCaptured      Code = 107029 // the stream is not capturing
	ErrRTCaptureModeNotSupport  Code = 107030 // a call the capture's mode refuses
	ErrRTStreamCaptureUnmatched Code = 107036 // the capture was not begun here
	ErrRTFeatureNotSupport      Code = 207000 // capture on a chip without it (first-generation 910)
)

func init() {
	for c, n := range map[Code]string{
		ErrRTModelContext:           "ACL_ERROR_RT_MODEL_CONTEXT",
		ErrRTStreamCaptured:         "ACL_ERROR_RT_STREAM_CAPTURED",
		ErrRTEventCaptured:          "ACL_ERROR_RT_EVENT_CAPTURED",
		ErrRTStreamNotCaptured:      "ACL_ERROR_RT_STREAM_NOT_CAPTURED",
		ErrRTCaptureModeNotSupport:  "ACL_ERROR_RT_CAPTURE_MODE_NOT_SUPPORT",
		ErrRTStreamCaptureUnmatched: "ACL_ERROR_RT_STREAM_CAPTURE_UNMATCHED",
		ErrRTFeatureNotSupport:      "ACL_ERROR_RT_FEATURE_NOT_SUPPORT",
	} {
		codeNames[c] = n
	}
}

// The capture symbols: optional, absent from CANN 8.0.RC2.
const (
	symCaptureBegin = "aclmdlRICaptureBegin"
	symCaptureEnd   = "aclmdlRICaptureEnd"
	symGraphLaunch  = "aclmdlRIExecuteAsync"
	symGraphDestroy = "aclmdlRIDestroy"
)

// CanCapture reports whether the runtime has the capture symbols (aclmdlRICaptureBegin,
// aclmdlRICaptureEnd, aclmdlRIExecuteAsync, aclmdlRIDestroy). The chip must support capture too:
// CANN documents it for Atlas A2 and A3 (910B, 910_93) only, and BeginCapture fails elsewhere.
func (l *Lib) CanCapture() bool {
	return l.Has(symCaptureBegin) && l.Has(symCaptureEnd) && l.Has(symGraphLaunch) && l.Has(symGraphDestroy)
}

// unsupported is the error of a call whose symbol this CANN lacks.
func unsupported(symbol string) error { return fmt.Errorf("acl: %s: %w", symbol, ErrUnsupported) }

// errDefaultStream refuses a capture of the default stream (a nil *Stream).
func errDefaultStream(symbol string) error {
	return fmt.Errorf("acl: %s: the default stream cannot be captured: capture a stream from NewStream", symbol)
}

// captureLocks holds the streams whose BeginCapture locked the calling goroutine to its OS thread,
// until their EndCapture.
var captureLocks sync.Map // *Stream -> struct{}

// BeginCapture starts recording the work queued on s instead of running it (aclmdlRICaptureBegin):
// the kernels, MemcpyAsync, MemsetAsync and event records queued on s until EndCapture go into the
// graph EndCapture returns, and none of them runs. s must be a stream from NewStream. While s
// captures, neither s, its device nor an event recorded on s may be synchronized, s must not be
// destroyed, and synchronous copies and memsets are refused as mode says. The memory the captured
// work uses (buffers, workspaces) must stay allocated until the graph is destroyed.
//
// CANN ties a capture to the OS thread that began it: it ends there unless mode is CaptureRelaxed,
// and CaptureThreadLocal refuses synchronous memory calls on that thread. So BeginCapture locks the
// calling goroutine to its OS thread (runtime.LockOSThread) until EndCapture, which the same
// goroutine must call.
func (s *Stream) BeginCapture(mode CaptureMode) error {
	if s == nil {
		return errDefaultStream(symCaptureBegin)
	}
	d := s.dev
	if !d.Lib().Has(symCaptureBegin) {
		return unsupported(symCaptureBegin)
	}
	runtime.LockOSThread()
	if err := check(C.rx_capture_begin(d.l(), d.ctx.h, d.ctx.id, s.h, C.int32_t(mode)), symCaptureBegin, ""); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	captureLocks.Store(s, struct{}{})
	return nil
}

// EndCapture stops recording and returns the graph of what was queued on s since BeginCapture
// (aclmdlRICaptureEnd). It releases the goroutine's OS thread that BeginCapture locked, whether or
// not it succeeds.
func (s *Stream) EndCapture() (*Graph, error) {
	if s == nil {
		return nil, errDefaultStream(symCaptureEnd)
	}
	d := s.dev
	if !d.Lib().Has(symCaptureEnd) {
		return nil, unsupported(symCaptureEnd)
	}
	r := C.rx_capture_end(d.l(), d.ctx.h, d.ctx.id, s.h)
	if _, locked := captureLocks.LoadAndDelete(s); locked {
		runtime.UnlockOSThread()
	}
	if err := check(r, symCaptureEnd, ""); err != nil {
		return nil, err
	}
	if r.p == nil {
		return nil, &Error{Call: symCaptureEnd, Detail: "succeeded without a graph"}
	}
	return &Graph{dev: d, h: C.aclmdlRI(r.p)}, nil
}

// Graph is a captured sequence of stream work (aclmdlRI, a model run instance), replayed with
// Launch. It belongs to the device whose stream was captured.
type Graph struct {
	dev *Device
	h   C.aclmdlRI
}

// Launch queues one replay of the graph on s (aclmdlRIExecuteAsync; nil s is the default stream):
// every captured task in order, with the addresses and executor state it was captured with.
// Synchronize s to wait for it.
func (g *Graph) Launch(s *Stream) error {
	d := g.dev
	if !d.Lib().Has(symGraphLaunch) {
		return unsupported(symGraphLaunch)
	}
	if g.h == nil {
		return errors.New("acl: aclmdlRIExecuteAsync: the graph was destroyed")
	}
	return check(C.rx_graph_launch(d.l(), d.ctx.h, d.ctx.id, g.h, s.handle()), symGraphLaunch, "")
}

// Destroy releases the graph (aclmdlRIDestroy). Replays already queued still run. Destroying a nil
// or destroyed Graph does nothing.
func (g *Graph) Destroy() error {
	if g == nil || g.h == nil {
		return nil
	}
	d := g.dev
	if !d.Lib().Has(symGraphDestroy) {
		return unsupported(symGraphDestroy)
	}
	err := check(C.rx_graph_destroy(d.l(), d.ctx.h, d.ctx.id, g.h), symGraphDestroy, "")
	g.h = nil
	return err
}
