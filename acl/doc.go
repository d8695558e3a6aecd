// Package acl is the thin cgo layer over Huawei's CANN: the ACL runtime (libascendcl.so, or
// libacl_rt.so where a newer CANN ships only that), the aclnn base (libnnopbase.so), the aclnn
// operators (libopapi.so, or libopapi_nn.so and libopapi_math.so) and HCCL (libhccl.so, optional:
// Lib.HCCL says why it is unavailable; Device.HCCLRootInfo, NewComm and NewCommRankTable make a
// Comm, whose AllReduce, Broadcast and Barrier queue on a stream, errors as *HCCLError).
//
// # Loading
//
// Nothing is linked at build time: Load finds the libraries with dlopen and binds each symbol with
// dlsym, so one binary runs with or without a CANN installation and says why Ascend is unusable
// where it is. Search order: $RESNEXT_ACL_LIB_DIR alone when set (one directory holding every
// library; tests point it at acl/testruntime, whose four names may be links to one file); else
// $ASCEND_TOOLKIT_HOME/lib64, $ASCEND_TOOLKIT_HOME/<arch>-linux/lib64, the same under
// /usr/local/Ascend/ascend-toolkit/latest, then the dynamic loader's default path. A missing library
// or symbol is a *LoadError naming it and where it looked. The executor-reuse symbols absent from
// older CANN (aclSetAclOpExecutorRepeatable, aclSetInputTensorAddr, aclSetOutputTensorAddr,
// aclSetRawTensorAddr) are optional: Lib.Has reports them and the calls that need them return
// ErrUnsupported. Available is the one-call check for callers (load, aclInit, a device present).
//
// With CGO_ENABLED=0 the package compiles with Load, LoadDir and Available only, all returning
// ErrNoCgo; code using the rest of the API builds with the cgo constraint.
//
// # Prototypes
//
// The aclnn headers are C++, so the prototypes are hand-written in shim.h, one RX_SYMBOLS line per
// symbol. Where a toolkit is installed, check them against its headers with
//
//	CGO_CXXFLAGS=-I$ASCEND_TOOLKIT_HOME/include go build -tags ascend_headers ./acl
//
// which compiles header_check.cc: a static_assert per symbol that the hand-written function type is
// the headers'. (Add -DRESNEXT_ACL_SKIP_OPTIONAL to CGO_CXXFLAGS for a CANN whose headers lack the
// optional symbols.)
//
// # Threads and contexts
//
// An ACL context is current per OS thread. A Device owns a context, and each of its calls makes that
// context current inside the same C call, only when the thread last had another one (see Device).
// Callers need not lock OS threads. Errors (*Error) name the call, the code and its CANN name, and
// carry aclGetRecentErrMsg's text taken on the failing thread.
//
// # aclnn
//
// Tensor, Scalar, IntArray and BoolArray wrap the aclnn descriptors. Every operator is a two-phase
// call: PrepareXxx runs aclnnXxxGetWorkspaceSize and returns an Executor; Executor.Run takes the
// workspace from a WorkspaceAllocator and launches on a stream. The direct forms (Device.Add, ...)
// do both. Bound operators: elementwise Add, Mul, Muls, Relu, Cast, EqScalar; in place InplaceAdd,
// InplaceAdds, InplaceMuls, InplaceFillScalar, InplaceCopy; training Convolution, BatchNorm,
// ThresholdBackward, MaxPool2dWithMask and their backwards; Mean, ReduceSum, Mm; LogSoftmax and
// NLLLoss and their backwards. Arguments follow CANN's order. The in-place ops list selfRef as
// input 0 and output 0 of their executor; the max-pool mask is opaque (its contents differ between
// chip generations) and only MaxPool2dWithMaskBackward reads it.
package acl
