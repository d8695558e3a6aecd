package ops

import (
	"fmt"
	"math"
)

// DType is the element type of a tensor.
type DType uint8

// The element types a backend may hold. Kernels state which of them they compute in.
const (
	Invalid DType = iota
	Float32
	Float16
	BFloat16
	Int32
	Int64
	Uint8
	Bool
)

var dtypeInfo = [...]struct {
	name string
	size int
}{
	Invalid:  {"invalid", 0},
	Float32:  {"float32", 4},
	Float16:  {"float16", 2},
	BFloat16: {"bfloat16", 2},
	Int32:    {"int32", 4},
	Int64:    {"int64", 8},
	Uint8:    {"uint8", 1},
	Bool:     {"bool", 1},
}

// Size is the number of bytes one element takes.
func (d DType) Size() int {
	if int(d) >= len(dtypeInfo) {
		return 0
	}
	return dtypeInfo[d].size
}

// String is the lower-case name of the type, as PyTorch spells it.
func (d DType) String() string {
	if int(d) >= len(dtypeInfo) || d == Invalid {
		return fmt.Sprintf("DType(%d)", uint8(d))
	}
	return dtypeInfo[d].name
}

// IsFloat reports whether d is one of the floating-point types.
func (d DType) IsFloat() bool { return d == Float32 || d == Float16 || d == BFloat16 }

// Lowest is the lowest finite value of type d: -65504 for Float16, about -3.39e38 for BFloat16,
// -math.MaxFloat32 for Float32, the minimum of an integer type, 0 for Bool.
func (d DType) Lowest() float64 {
	switch d {
	case Float32:
		return -math.MaxFloat32
	case Float16:
		return -65504
	case BFloat16:
		return -float64(math.Float32frombits(0x7f7f0000))
	case Int32:
		return math.MinInt32
	case Int64:
		return math.MinInt64
	}
	return 0
}

// ParseDType returns the DType named s ("float32", "float16", "bfloat16", "int32", "int64", "uint8", "bool").
func ParseDType(s string) (DType, error) {
	for d := Float32; int(d) < len(dtypeInfo); d++ {
		if dtypeInfo[d].name == s {
			return d, nil
		}
	}
	return Invalid, fmt.Errorf("unknown dtype %q: want one of float32, float16, bfloat16, int32, int64, uint8, bool", s)
}

// Encode converts v to one element of type d, the way Backend.Fill does, and returns its bits (the
// element's little-endian bytes are the low d.Size() bytes): float types round to nearest, integer
// types truncate toward zero (Uint8 and Int32 wrap like a Go conversion through int64), Bool is 1 for
// any nonzero number and 0 for zero and NaN.
func (d DType) Encode(v float64) uint64 {
	switch d {
	case Float32:
		return uint64(math.Float32bits(float32(v)))
	case Float16:
		return uint64(Float16Bits(float32(v)))
	case BFloat16:
		return uint64(BFloat16Bits(float32(v)))
	case Int32:
		return uint64(uint32(int32(v)))
	case Int64:
		return uint64(int64(v))
	case Uint8:
		return uint64(uint8(v))
	case Bool:
		if v != 0 && !math.IsNaN(v) {
			return 1
		}
		return 0
	}
	Misuse("Fill", "invalid dtype %v", d)
	return 0
}
