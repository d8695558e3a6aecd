//go:build ascend_headers && cgo

// header_check.cc: compile-time check of the hand-written prototypes in shim.h against the real CANN
// headers. Build with
//
//	CGO_CXXFLAGS=-I$ASCEND_TOOLKIT_HOME/include go build -tags ascend_headers ./acl
//
// Each symbol of RX_SYMBOLS must have exactly the function type the headers declare (top-level const
// on parameters is not part of a function type). On a CANN whose headers lack the optional symbols,
// add -DRESNEXT_ACL_SKIP_OPTIONAL to CGO_CXXFLAGS.

#define RX_REAL_HEADERS 1
#include "shim.h"

#include <type_traits>

#define RX_CHECK_REQ(name)                                                                       \
    static_assert(std::is_same<rx_##name##_t, decltype(&::name)>::value,                         \
                  "acl/shim.h: the prototype of " #name " differs from the CANN headers");
#ifdef RESNEXT_ACL_SKIP_OPTIONAL
#define RX_CHECK_OPT(name)
#else
#define RX_CHECK_OPT(name) RX_CHECK_REQ(name)
#endif
#define RX_CHECK_ENTRY(name, lib, opt, ret, params) RX_CHECK_##opt(name)
RX_SYMBOLS(RX_CHECK_ENTRY)

// Every launch has the shared launch type that rx_launch calls through.
static_assert(std::is_same<rx_launch_t, decltype(&::aclnnAdd)>::value, "aclnn launch type");

// The enum values this package mirrors as Go constants.
static_assert(ACL_FLOAT == 0 && ACL_FLOAT16 == 1 && ACL_INT8 == 2 && ACL_INT32 == 3 && ACL_UINT8 == 4 &&
                  ACL_INT16 == 6 && ACL_INT64 == 9 && ACL_DOUBLE == 11 && ACL_BOOL == 12 && ACL_BF16 == 27,
              "aclDataType values");
static_assert(ACL_FORMAT_NCHW == 0 && ACL_FORMAT_ND == 2, "aclFormat values");
static_assert(ACL_MEMCPY_HOST_TO_DEVICE == 1 && ACL_MEMCPY_DEVICE_TO_HOST == 2 && ACL_MEMCPY_DEVICE_TO_DEVICE == 3,
              "aclrtMemcpyKind values");
static_assert(ACL_MEM_MALLOC_HUGE_FIRST == 0, "aclrtMemMallocPolicy values");
static_assert(ACL_HBM_MEM == 1, "aclrtMemAttr values");
static_assert(sizeof(aclDataType) == sizeof(int) && sizeof(aclFormat) == sizeof(int) &&
                  sizeof(aclrtMemcpyKind) == sizeof(int) && sizeof(aclrtMemMallocPolicy) == sizeof(int) &&
                  sizeof(aclrtMemAttr) == sizeof(int),
              "the enums are passed as int by the C shim");

// HCCL (hccl/hccl_types.h): the values the Go side mirrors, and the root info's size.
static_assert(HCCL_SUCCESS == 0 && HCCL_E_PARA == 1 && HCCL_E_PTR == 2 && HCCL_E_MEMORY == 3 && HCCL_E_INTERNAL == 4 &&
                  HCCL_E_NOT_SUPPORT == 5 && HCCL_E_TIMEOUT == 9 && HCCL_E_RUNTIME == 15 && HCCL_E_SUSPENDING == 22,
              "HcclResult values");
static_assert(HCCL_DATA_TYPE_INT8 == 0 && HCCL_DATA_TYPE_INT32 == 2 && HCCL_DATA_TYPE_FP16 == 3 &&
                  HCCL_DATA_TYPE_FP32 == 4 && HCCL_DATA_TYPE_INT64 == 5 && HCCL_DATA_TYPE_BFP16 == 11,
              "HcclDataType values");
static_assert(HCCL_REDUCE_SUM == 0 && HCCL_REDUCE_PROD == 1 && HCCL_REDUCE_MAX == 2 && HCCL_REDUCE_MIN == 3,
              "HcclReduceOp values");
static_assert(sizeof(HcclRootInfo) == 4108, "HcclRootInfo is HCCL_ROOT_INFO_BYTES");
static_assert(sizeof(HcclResult) == sizeof(int) && sizeof(HcclDataType) == sizeof(int) &&
                  sizeof(HcclReduceOp) == sizeof(int),
              "the HCCL enums are passed as int by the C shim");
