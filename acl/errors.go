package acl

import (
	"errors"
	"fmt"
	"strings"
)

// Code is an ACL runtime error code (aclError) or an aclnn status (aclnnStatus); 0 is success.
// The two families do not overlap, so one type names both.
type Code int32

// ACL runtime error codes (acl_base.h, rt_error_codes.h).
const (
	Success                   Code = 0
	ErrInvalidParam           Code = 100000
	ErrUninitialize           Code = 100001
	ErrRepeatInitialize       Code = 100002
	ErrInvalidFile            Code = 100003
	ErrRTParamInvalid         Code = 107000
	ErrRTInvalidDeviceID      Code = 107001
	ErrRTContextNull          Code = 107002
	ErrRTStreamContext        Code = 107003
	ErrBadAlloc               Code = 200000
	ErrAPINotSupport          Code = 200001
	ErrInvalidDevice          Code = 200002
	ErrMemoryAddressUnaligned Code = 200003
	ErrResourceNotMatch       Code = 200004
	ErrInvalidResourceHandle  Code = 200005
	ErrFeatureUnsupported     Code = 200006
	ErrRTMemoryAllocation     Code = 207001
	ErrRTDeviceOOM            Code = 207018
	ErrStorageOverLimit       Code = 300000
	ErrInternalError          Code = 500000
	ErrFailure                Code = 500001
	ErrRTFailure              Code = 500003
	ErrRTInternalError        Code = 507000
	ErrRTModelExecute         Code = 507011
	ErrRTTaskTimeout          Code = 507048 // a queued task (an HCCL collective) timed out on the device
	ErrRTTaskException        Code = 507049 // a queued task (an HCCL collective) failed on the device
	ErrRTDrvInternalError     Code = 507899
)

// aclnn status codes (aclnn/aclnn_base.h and the op packages).
const (
	NNErrParamNullptr     Code = 161001
	NNErrParamInvalid     Code = 161002
	NNErrRuntimeError     Code = 361001
	NNErrInner            Code = 561000
	NNErrInnerInferShape  Code = 561001
	NNErrInnerTiling      Code = 561002
	NNErrInnerFindKernel  Code = 561003
	NNErrInnerCreateExec  Code = 561101
	NNErrInnerNotTransExe Code = 561102
	NNErrInnerNullptr     Code = 561103
	NNErrInnerOppPath     Code = 561107
	NNErrInnerOppKernel   Code = 561112
)

var codeNames = map[Code]string{
	Success:                   "ACL_SUCCESS",
	ErrInvalidParam:           "ACL_ERROR_INVALID_PARAM",
	ErrUninitialize:           "ACL_ERROR_UNINITIALIZE",
	ErrRepeatInitialize:       "ACL_ERROR_REPEAT_INITIALIZE",
	ErrInvalidFile:            "ACL_ERROR_INVALID_FILE",
	ErrRTParamInvalid:         "ACL_ERROR_RT_PARAM_INVALID",
	ErrRTInvalidDeviceID:      "ACL_ERROR_RT_INVALID_DEVICEID",
	ErrRTContextNull:          "ACL_ERROR_RT_CONTEXT_NULL",
	ErrRTStreamContext:        "ACL_ERROR_RT_STREAM_CONTEXT",
	ErrBadAlloc:               "ACL_ERROR_BAD_ALLOC",
	ErrAPINotSupport:          "ACL_ERROR_API_NOT_SUPPORT",
	ErrInvalidDevice:          "ACL_ERROR_INVALID_DEVICE",
	ErrMemoryAddressUnaligned: "ACL_ERROR_MEMORY_ADDRESS_UNALIGNED",
	ErrResourceNotMatch:       "ACL_ERROR_RESOURCE_NOT_MATCH",
	ErrInvalidResourceHandle:  "ACL_ERROR_INVALID_RESOURCE_HANDLE",
	ErrFeatureUnsupported:     "ACL_ERROR_FEATURE_UNSUPPORTED",
	ErrRTMemoryAllocation:     "ACL_ERROR_RT_MEMORY_ALLOCATION",
	ErrRTDeviceOOM:            "ACL_ERROR_RT_DEVICE_OOM",
	ErrStorageOverLimit:       "ACL_ERROR_STORAGE_OVER_LIMIT",
	ErrInternalError:          "ACL_ERROR_INTERNAL_ERROR",
	ErrFailure:                "ACL_ERROR_FAILURE",
	ErrRTFailure:              "ACL_ERROR_RT_FAILURE",
	ErrRTInternalError:        "ACL_ERROR_RT_INTERNAL_ERROR",
	ErrRTModelExecute:         "ACL_ERROR_RT_MODEL_EXECUTE",
	ErrRTTaskTimeout:          "ACL_ERROR_RT_FFTS_PLUS_TIMEOUT",
	ErrRTTaskException:        "ACL_ERROR_RT_FFTS_PLUS_EXCEPTION",
	ErrRTDrvInternalError:     "ACL_ERROR_RT_DRV_INTERNAL_ERROR",
	NNErrParamNullptr:         "ACLNN_ERR_PARAM_NULLPTR",
	NNErrParamInvalid:         "ACLNN_ERR_PARAM_INVALID",
	NNErrRuntimeError:         "ACLNN_ERR_RUNTIME_ERROR",
	NNErrInner:                "ACLNN_ERR_INNER",
	NNErrInnerInferShape:      "ACLNN_ERR_INNER_INFERSHAPE_ERROR",
	NNErrInnerTiling:          "ACLNN_ERR_INNER_TILING_ERROR",
	NNErrInnerFindKernel:      "ACLNN_ERR_INNER_FIND_KERNEL_ERROR",
	NNErrInnerCreateExec:      "ACLNN_ERR_INNER_CREATE_EXECUTOR",
	NNErrInnerNotTransExe:     "ACLNN_ERR_INNER_NOT_TRANS_EXECUTOR",
	NNErrInnerNullptr:         "ACLNN_ERR_INNER_NULLPTR",
	NNErrInnerOppPath:         "ACLNN_ERR_INNER_OPP_PATH_NOT_FOUND",
	NNErrInnerOppKernel:       "ACLNN_ERR_INNER_OPP_KERNEL_PKG_NOT_FOUND",
}

// String is the code's name in the CANN headers ("ACL_ERROR_RT_MEMORY_ALLOCATION"). A code without
// a mirrored name is named by its family: 1xxxxx parameter, 2xxxxx resource, 3xxxxx storage or
// runtime, 5xxxxx internal.
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	switch c / 100000 {
	case 1:
		return "unnamed parameter error"
	case 2:
		return "unnamed resource error"
	case 3:
		return "unnamed storage/runtime error"
	case 5:
		return "unnamed internal error"
	}
	return "unknown code"
}

// Error is a failed CANN call: the call that failed (and the aclnn op it served, if any), its code
// and the runtime's own description from aclGetRecentErrMsg, taken on the failing thread.
type Error struct {
	// Op is the aclnn operator ("aclnnAdd") when the call was part of an op, else empty.
	Op string
	// Call is the C function that failed ("aclrtMalloc", "aclnnAddGetWorkspaceSize").
	Call string
	// Code is the returned aclError or aclnnStatus; 0 when a create function returned NULL.
	Code Code
	// Msg is aclGetRecentErrMsg's text, possibly empty.
	Msg string
	// Detail is context added by this package (sizes, devices), possibly empty.
	Detail string
}

// Error formats as "acl: aclnnAdd: aclnnAddGetWorkspaceSize: ACLNN_ERR_PARAM_INVALID (161002): detail: msg".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("acl: ")
	if e.Op != "" && e.Op != e.Call {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(e.Call)
	if e.Code == Success {
		b.WriteString(": returned NULL")
	} else {
		fmt.Fprintf(&b, ": %s (%d)", e.Code.String(), int32(e.Code))
	}
	writeDetail(&b, e.Detail, e.Msg)
	return b.String()
}

// writeDetail appends ": detail: msg" to an error's text, leaving out what is empty.
func writeDetail(b *strings.Builder, detail, msg string) {
	if detail != "" {
		b.WriteString(": ")
		b.WriteString(detail)
	}
	if m := strings.TrimSpace(msg); m != "" {
		b.WriteString(": ")
		b.WriteString(m)
	}
}

// Is reports whether target is the same Code, so errors.Is(err, acl.ErrRTMemoryAllocation) works.
func (e *Error) Is(target error) bool {
	c, ok := target.(Code)
	return ok && c == e.Code
}

// Error makes a Code usable as an errors.Is target.
func (c Code) Error() string { return fmt.Sprintf("%s (%d)", c.String(), int32(c)) }

// IsOutOfMemory reports whether err is a device allocation failure.
func IsOutOfMemory(err error) bool {
	return errors.Is(err, ErrRTMemoryAllocation) || errors.Is(err, ErrRTDeviceOOM) || errors.Is(err, ErrBadAlloc)
}

// LoadError is a failure to find or load a CANN library or one of its symbols.
type LoadError struct {
	// Library is the file name looked for ("libascendcl.so").
	Library string
	// Symbol is the missing symbol, or empty when the library itself failed.
	Symbol string
	// Path is the file that was found but failed to load or lacked Symbol, or empty.
	Path string
	// Searched lists the directories looked in, in order ("default search path" for dlopen's own).
	Searched []string
	// Reason is the dynamic loader's message, possibly empty.
	Reason string
	// Hint says what to do about it.
	Hint string
}

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString("acl: ")
	switch {
	case e.Symbol != "":
		fmt.Fprintf(&b, "symbol %s not found in %s", e.Symbol, e.where())
	case e.Path != "":
		fmt.Fprintf(&b, "cannot load %s", e.Path)
	default:
		fmt.Fprintf(&b, "%s not found in %s", e.Library, strings.Join(e.Searched, ", "))
	}
	if e.Reason != "" {
		b.WriteString(" (")
		b.WriteString(e.Reason)
		b.WriteString(")")
	}
	if e.Hint != "" {
		b.WriteString(": ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

func (e *LoadError) where() string {
	if e.Path != "" {
		return e.Path
	}
	return e.Library
}

// ErrNoCgo is returned by Load and Available in a binary built with CGO_ENABLED=0.
var ErrNoCgo = errors.New("acl: Ascend support needs a cgo build (this binary was built with CGO_ENABLED=0); rebuild with CGO_ENABLED=1 and a C compiler")

// ErrUnsupported is wrapped by calls that need a symbol this CANN version lacks (the optional ones).
var ErrUnsupported = errors.New("not supported by this CANN version")
