package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/resnext/resnext/ckpt/internal/quote"
	"github.com/resnext/resnext/ops"
)

// Typed views of tensor data. The getters copy and convert; the constructors encode.

// Float32 returns the elements as float32. F32 is copied, F16 and BF16 are widened exactly, F64 is
// rounded to nearest.
func (t Tensor) Float32() ([]float32, error) {
	if err := t.sized(); err != nil {
		return nil, err
	}
	n := t.Numel()
	out := make([]float32, n)
	d := t.Data
	switch t.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:]))
		}
	case F16:
		for i := range out {
			out[i] = ops.Float16Value(binary.LittleEndian.Uint16(d[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = ops.BFloat16Value(binary.LittleEndian.Uint16(d[2*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(d[8*i:])))
		}
	default:
		return nil, fmt.Errorf("safetensors: tensor %s has dtype %s, not F32, F16, BF16 or F64", quote.String(t.Name), t.DType)
	}
	return out, nil
}

// Float64 returns the elements of a floating-point tensor as float64 (exactly).
func (t Tensor) Float64() ([]float64, error) {
	if t.DType == F64 {
		if err := t.sized(); err != nil {
			return nil, err
		}
		out := make([]float64, t.Numel())
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
		}
		return out, nil
	}
	f, err := t.Float32()
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	return out, nil
}

// Int32 returns the elements of an integer or BOOL tensor as int32; I64, U32 and U64 values outside
// the int32 range are an error.
func (t Tensor) Int32() ([]int32, error) {
	v, err := t.Int64()
	if err != nil {
		return nil, err
	}
	out := make([]int32, len(v))
	for i, x := range v {
		if x < math.MinInt32 || x > math.MaxInt32 {
			return nil, fmt.Errorf("safetensors: tensor %s: element %d = %d does not fit in int32", quote.String(t.Name), i, x)
		}
		out[i] = int32(x)
	}
	return out, nil
}

// Int64 returns the elements of an integer or BOOL tensor as int64; U64 values above the int64
// range are an error.
func (t Tensor) Int64() ([]int64, error) {
	if err := t.sized(); err != nil {
		return nil, err
	}
	out := make([]int64, t.Numel())
	d := t.Data
	le := binary.LittleEndian
	switch t.DType {
	case BOOL, U8:
		for i := range out {
			out[i] = int64(d[i])
		}
	case I8:
		for i := range out {
			out[i] = int64(int8(d[i]))
		}
	case I16:
		for i := range out {
			out[i] = int64(int16(le.Uint16(d[2*i:])))
		}
	case U16:
		for i := range out {
			out[i] = int64(le.Uint16(d[2*i:]))
		}
	case I32:
		for i := range out {
			out[i] = int64(int32(le.Uint32(d[4*i:])))
		}
	case U32:
		for i := range out {
			out[i] = int64(le.Uint32(d[4*i:]))
		}
	case I64:
		for i := range out {
			out[i] = int64(le.Uint64(d[8*i:]))
		}
	case U64:
		for i := range out {
			u := le.Uint64(d[8*i:])
			if u > math.MaxInt64 {
				return nil, fmt.Errorf("safetensors: tensor %s: element %d = %d does not fit in int64", quote.String(t.Name), i, u)
			}
			out[i] = int64(u)
		}
	default:
		return nil, fmt.Errorf("safetensors: tensor %s has dtype %s, not an integer type", quote.String(t.Name), t.DType)
	}
	return out, nil
}

// sized checks that Data is as long as the dtype and shape say, so that the getters cannot index
// out of range on a hand-built tensor.
func (t Tensor) sized() error {
	size := DTypeSize(t.DType)
	if size == 0 {
		return fmt.Errorf("safetensors: tensor %s: unknown dtype %s", quote.String(t.Name), quote.String(t.DType))
	}
	n, err := numelBytes(t.Shape, size)
	if err != nil {
		return fmt.Errorf("safetensors: tensor %s: %w", quote.String(t.Name), err)
	}
	if uint64(len(t.Data)) != n {
		return fmt.Errorf("safetensors: tensor %s: %d bytes of data for %s %s, want %d", quote.String(t.Name), len(t.Data), t.DType, quote.Ints(t.Shape), n)
	}
	return nil
}

// From returns a tensor holding v, its dtype taken from v's element type (F32, F64, I32 or I64).
// It panics when len(v) does not match the shape.
func From[T float32 | float64 | int32 | int64](name string, shape []int, v []T) Tensor {
	var dt string
	switch any(v).(type) {
	case []float32:
		dt = F32
	case []float64:
		dt = F64
	case []int32:
		dt = I32
	case []int64:
		dt = I64
	}
	t := Tensor{Name: name, DType: dt, Shape: shape, Data: make([]byte, 0, DTypeSize(dt)*len(v))}
	mustMatch(t, len(v))
	for _, x := range v {
		switch x := any(x).(type) {
		case float32:
			t.Data = binary.LittleEndian.AppendUint32(t.Data, math.Float32bits(x))
		case float64:
			t.Data = binary.LittleEndian.AppendUint64(t.Data, math.Float64bits(x))
		case int32:
			t.Data = binary.LittleEndian.AppendUint32(t.Data, uint32(x))
		case int64:
			t.Data = binary.LittleEndian.AppendUint64(t.Data, uint64(x))
		}
	}
	return t
}

func mustMatch(t Tensor, n int) {
	if t.Numel() != n {
		panic(fmt.Sprintf("safetensors: tensor %s: %d values for shape %s", quote.String(t.Name), n, quote.Ints(t.Shape)))
	}
}
