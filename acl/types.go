package acl

import "strconv"

// DataType is aclDataType.
type DataType int32

// aclDataType values (acl_base.h).
const (
	Float32  DataType = 0
	Float16  DataType = 1
	Int8     DataType = 2
	Int32    DataType = 3
	Uint8    DataType = 4
	Int16    DataType = 6
	Uint16   DataType = 7
	Uint32   DataType = 8
	Int64    DataType = 9
	Uint64   DataType = 10
	Float64  DataType = 11
	Bool     DataType = 12
	BFloat16 DataType = 27
)

// Size is the element size in bytes, 0 for a type this package does not know.
func (d DataType) Size() int {
	switch d {
	case Int8, Uint8, Bool:
		return 1
	case Float16, Int16, Uint16, BFloat16:
		return 2
	case Float32, Int32, Uint32:
		return 4
	case Int64, Uint64, Float64:
		return 8
	}
	return 0
}

var dataTypeNames = map[DataType]string{
	Float32: "ACL_FLOAT", Float16: "ACL_FLOAT16", Int8: "ACL_INT8", Int32: "ACL_INT32", Uint8: "ACL_UINT8",
	Int16: "ACL_INT16", Uint16: "ACL_UINT16", Uint32: "ACL_UINT32", Int64: "ACL_INT64", Uint64: "ACL_UINT64",
	Float64: "ACL_DOUBLE", Bool: "ACL_BOOL", BFloat16: "ACL_BF16",
}

// String is the CANN name ("ACL_FLOAT").
func (d DataType) String() string {
	if n, ok := dataTypeNames[d]; ok {
		return n
	}
	return "aclDataType(" + strconv.Itoa(int(d)) + ")"
}

// Format is aclFormat.
type Format int32

// aclFormat values used by this package.
const (
	FormatNCHW Format = 0
	FormatNHWC Format = 1
	FormatND   Format = 2
	FormatNCL  Format = 47
)

// FormatFor is the format callers of aclnn give a plain row-major tensor of ndim dimensions: NCHW for
// 4-D, ND otherwise. (NCL for 3-D is what some callers use for 1-D convolutions; ResNeXt has none.)
func FormatFor(ndim int) Format {
	if ndim == 4 {
		return FormatNCHW
	}
	return FormatND
}

// MemcpyKind is aclrtMemcpyKind.
type MemcpyKind int32

// aclrtMemcpyKind values.
const (
	HostToHost     MemcpyKind = 0
	HostToDevice   MemcpyKind = 1
	DeviceToHost   MemcpyKind = 2
	DeviceToDevice MemcpyKind = 3
)

// MallocPolicy is aclrtMemMallocPolicy.
type MallocPolicy int32

// aclrtMemMallocPolicy values.
const (
	HugeFirst  MallocPolicy = 0
	HugeOnly   MallocPolicy = 1
	NormalOnly MallocPolicy = 2
)

// MemAttr is aclrtMemAttr, the memory kind aclrtGetMemInfo reports on.
type MemAttr int32

// aclrtMemAttr values.
const (
	DDRMem       MemAttr = 0
	HBMMem       MemAttr = 1
	DDRMemHuge   MemAttr = 2
	DDRMemNormal MemAttr = 3
	HBMMemHuge   MemAttr = 4
	HBMMemNormal MemAttr = 5
)

// Ptr is an address in device memory (from Malloc) or in pinned host memory (from MallocHost): memory
// the Go garbage collector does not manage. The zero Ptr is NULL.
type Ptr uintptr
