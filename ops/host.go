package ops

import (
	"fmt"
	"unsafe"
)

// Typed host transfers. Backends move raw little-endian bytes; these helpers view typed slices as
// bytes (no copy) and convert float16/bfloat16 where asked.

// Bytes views a slice of fixed-size numbers as its bytes, without copying.
func Bytes[T ~float32 | ~float64 | ~int32 | ~int64 | ~uint16 | ~uint8](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0])))
}

// FromFloat32 allocates a tensor of the given shape and dtype on b and fills it from data
// (converted to dt when dt is Float16 or BFloat16).
func FromFloat32(b Backend, dt DType, shape Shape, data []float32) Tensor {
	if len(data) != shape.Numel() {
		Misuse("FromFloat32", "%d values for shape %v", len(data), shape)
	}
	t := b.Alloc(dt, shape)
	switch dt {
	case Float32:
		b.Write(t, Bytes(data))
	case Float16, BFloat16:
		h := make([]uint16, len(data))
		conv := Float16Bits
		if dt == BFloat16 {
			conv = BFloat16Bits
		}
		for i, v := range data {
			h[i] = conv(v)
		}
		b.Write(t, Bytes(h))
	default:
		b.Free(t)
		Misuse("FromFloat32", "dtype %v is not a floating-point type", dt)
	}
	return t
}

// FromInt32 allocates an Int32 tensor on b and fills it from data.
func FromInt32(b Backend, shape Shape, data []int32) Tensor {
	if len(data) != shape.Numel() {
		Misuse("FromInt32", "%d values for shape %v", len(data), shape)
	}
	t := b.Alloc(Int32, shape)
	b.Write(t, Bytes(data))
	return t
}

// ToFloat32 reads a floating-point tensor back to the host as float32 values.
func ToFloat32(b Backend, t Tensor) ([]float32, error) {
	n := t.Shape().Numel()
	switch t.DType() {
	case Float32:
		out := make([]float32, n)
		return out, b.Read(t, Bytes(out))
	case Float16, BFloat16:
		h := make([]uint16, n)
		if err := b.Read(t, Bytes(h)); err != nil {
			return nil, err
		}
		conv := Float16Value
		if t.DType() == BFloat16 {
			conv = BFloat16Value
		}
		out := make([]float32, n)
		for i, v := range h {
			out[i] = conv(v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("ToFloat32: tensor %v has dtype %v, not floating point", t.Shape(), t.DType())
}

// ToInt32 reads an Int32 tensor back to the host.
func ToInt32(b Backend, t Tensor) ([]int32, error) {
	if t.DType() != Int32 {
		return nil, fmt.Errorf("ToInt32: tensor %v has dtype %v", t.Shape(), t.DType())
	}
	out := make([]int32, t.Shape().Numel())
	return out, b.Read(t, Bytes(out))
}

// ToBool reads a Bool tensor back to the host.
func ToBool(b Backend, t Tensor) ([]bool, error) {
	if t.DType() != Bool {
		return nil, fmt.Errorf("ToBool: tensor %v has dtype %v", t.Shape(), t.DType())
	}
	raw := make([]byte, t.Shape().Numel())
	if err := b.Read(t, raw); err != nil {
		return nil, err
	}
	out := make([]bool, len(raw))
	for i, v := range raw {
		out[i] = v != 0
	}
	return out, nil
}

// PinnedHost is implemented by backends that copy to the device straight from host memory they
// allocate (page-locked memory on Ascend), without the staging copy Write otherwise makes. Write
// from such memory queues the copy and returns at once: the memory must not change until
// WaitPinned says the copy has read it. The input pipeline builds its batches there.
type PinnedHost interface {
	// AllocPinned returns n bytes of pinned host memory and the function that frees it (after
	// any copy out of it has finished).
	AllocPinned(n int) (buf []byte, free func(), err error)
	// WaitPinned waits until every copy queued from buf (memory of AllocPinned) has read it. It
	// may be called from any goroutine.
	WaitPinned(buf []byte) error
}
