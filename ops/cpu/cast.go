package cpu

import (
	"math"
	"math/bits"

	"github.com/resnext/resnext/ops"
)

// Cast goes through a small stack buffer: floating-point sources are read as float32 (exact for all
// three float types), integer and Bool sources as int64, then written in y's dtype.

// castChunk is the number of elements Cast converts per step.
const castChunk = 256

// Cast converts x into y's dtype. Float to float rounds to nearest even; float to integer truncates
// toward zero, saturating at the type's limits, with NaN giving 0; integer to float rounds to nearest
// even (once, even for wide integers into bfloat16); integer to integer wraps around as in C; any
// nonzero value (NaN included) is true as Bool, and true is 1.
func (b *Backend) Cast(x, y ops.Tensor) {
	const op = "Cast"
	ops.CheckCast(x, y)
	src, dst := get(op, x), get(op, y)
	if src.dtype == dst.dtype {
		copy(dst.bytes(), src.bytes())
		return
	}
	b.parallelFor(src.shape.Numel(), 2, func(lo, hi int) {
		if src.dtype.IsFloat() {
			var buf [castChunk]float32
			for i := lo; i < hi; i += castChunk {
				v := buf[:min(castChunk, hi-i)]
				loadFloat(src, i, v)
				storeFloat(dst, i, v)
			}
			return
		}
		var buf [castChunk]int64
		for i := lo; i < hi; i += castChunk {
			v := buf[:min(castChunk, hi-i)]
			loadInt(src, i, v)
			storeInt(dst, i, v)
		}
	})
}

// loadFloat reads len(v) elements of the floating-point tensor t from off.
func loadFloat(t *tensor, off int, v []float32) {
	switch t.dtype {
	case ops.Float32:
		copy(v, t.f32()[off:])
	case ops.Float16:
		for j, h := range t.u16()[off : off+len(v)] {
			v[j] = ops.Float16Value(h)
		}
	case ops.BFloat16:
		for j, h := range t.u16()[off : off+len(v)] {
			v[j] = ops.BFloat16Value(h)
		}
	}
}

// loadInt reads len(v) elements of the integer or Bool tensor t from off.
func loadInt(t *tensor, off int, v []int64) {
	switch t.dtype {
	case ops.Int32:
		for j, e := range t.i32()[off : off+len(v)] {
			v[j] = int64(e)
		}
	case ops.Int64:
		copy(v, t.i64()[off:])
	case ops.Uint8:
		for j, e := range t.bytes()[off : off+len(v)] {
			v[j] = int64(e)
		}
	case ops.Bool:
		for j, e := range t.bytes()[off : off+len(v)] {
			v[j] = int64(boolByte(e != 0))
		}
	}
}

// storeFloat writes the float32 values v into t from off, converting to t's dtype.
func storeFloat(t *tensor, off int, v []float32) {
	switch t.dtype {
	case ops.Float32:
		copy(t.f32()[off:], v)
	case ops.Float16:
		s := t.u16()[off : off+len(v)]
		for j, f := range v {
			s[j] = ops.Float16Bits(f)
		}
	case ops.BFloat16:
		s := t.u16()[off : off+len(v)]
		for j, f := range v {
			s[j] = ops.BFloat16Bits(f)
		}
	case ops.Int32:
		s := t.i32()[off : off+len(v)]
		for j, f := range v {
			s[j] = int32(min(max(truncSat(f), math.MinInt32), math.MaxInt32))
		}
	case ops.Int64:
		s := t.i64()[off : off+len(v)]
		for j, f := range v {
			s[j] = truncSat(f)
		}
	case ops.Uint8:
		s := t.bytes()[off : off+len(v)]
		for j, f := range v {
			s[j] = uint8(min(max(truncSat(f), 0), math.MaxUint8))
		}
	case ops.Bool:
		s := t.bytes()[off : off+len(v)]
		for j, f := range v {
			s[j] = boolByte(f != 0)
		}
	}
}

// storeInt writes the integers v into t from off, converting to t's dtype.
func storeInt(t *tensor, off int, v []int64) {
	switch t.dtype {
	case ops.Float32:
		s := t.f32()[off : off+len(v)]
		for j, e := range v {
			s[j] = float32(roundOdd(e, 26))
		}
	case ops.Float16:
		s := t.u16()[off : off+len(v)]
		for j, e := range v {
			s[j] = ops.Float16Bits(float32(roundOdd(e, 24)))
		}
	case ops.BFloat16:
		s := t.u16()[off : off+len(v)]
		for j, e := range v {
			s[j] = ops.BFloat16Bits(float32(roundOdd(e, 24)))
		}
	case ops.Int32:
		s := t.i32()[off : off+len(v)]
		for j, e := range v {
			s[j] = int32(e)
		}
	case ops.Int64:
		copy(t.i64()[off:], v)
	case ops.Uint8:
		s := t.bytes()[off : off+len(v)]
		for j, e := range v {
			s[j] = uint8(e)
		}
	case ops.Bool:
		s := t.bytes()[off : off+len(v)]
		for j, e := range v {
			s[j] = boolByte(e != 0)
		}
	}
}

// truncSat truncates f toward zero into an int64, saturating out of range; NaN gives 0.
func truncSat(f float32) int64 {
	switch d := float64(f); {
	case d != d:
		return 0
	case d >= 0x1p63:
		return math.MaxInt64
	case d < -0x1p63:
		return math.MinInt64
	default:
		return int64(d)
	}
}

// roundOdd returns v rounded to p significant bits (p <= 53) by rounding to odd: truncate, then set
// the last kept bit if anything was cut. Rounding that result to nearest even at p-2 bits or fewer
// gives the same answer as rounding v directly, which avoids double rounding.
func roundOdd(v int64, p int) float64 {
	a := uint64(v)
	if v < 0 {
		a = -a
	}
	if n := bits.Len64(a); n > p {
		s := uint(n - p)
		cut := a&(1<<s-1) != 0
		a = a >> s << s
		if cut {
			a |= 1 << s
		}
	}
	f := float64(a) // exact: a has at most p significant bits
	if v < 0 {
		f = -f
	}
	return f
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}
