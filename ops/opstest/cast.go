package opstest

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"

	"github.com/resnext/resnext/ops"
)

// Cast is checked on raw elements: each value below is an element's bit pattern (float32, float16,
// bfloat16) or integer value (two's complement), written out by hand from the IEEE 754 formats, so
// that the expected results do not come from the conversion code under test.

// Where a NaN is expected, any NaN bit pattern of the target type passes.

func f32raw(vs ...float32) []uint64 {
	out := make([]uint64, len(vs))
	for i, v := range vs {
		out[i] = uint64(math.Float32bits(v))
	}
	return out
}

func intRaw(vs ...int64) []uint64 {
	out := make([]uint64, len(vs))
	for i, v := range vs {
		out[i] = uint64(v)
	}
	return out
}

func pow2(e int) float32 { return float32(math.Ldexp(1, e)) }

// castCase converts in (raw elements of from) to to and expects want (raw elements of to).
type castCase struct {
	name     string
	from, to ops.DType
	in, want []uint64
}

var castCases = []castCase{
	{"float32_to_float16", ops.Float32, ops.Float16,
		f32raw(1, -2, 65504, math.Nextafter32(65520, 0), 65520, -65520, 1e6, pinf, ninf, 0, float32(math.Copysign(0, -1)),
			pow2(-24), pow2(-25), 3*pow2(-26), 3*pow2(-25), pow2(-14), 1+pow2(-11), 1+3*pow2(-11), 1+pow2(-10), 0.1, 1.0/3, nan),
		[]uint64{0x3C00, 0xC000, 0x7BFF, 0x7BFF, 0x7C00, 0xFC00, 0x7C00, 0x7C00, 0xFC00, 0x0000, 0x8000,
			0x0001, 0x0000, 0x0001, 0x0002, 0x0400, 0x3C00, 0x3C02, 0x3C01, 0x2E66, 0x3555, 0x7E00}},
	{"float32_to_bfloat16", ops.Float32, ops.BFloat16,
		f32raw(1, -2, math.Pi, 1+pow2(-8), 1+3*pow2(-8), 1+pow2(-7), math.MaxFloat32, pinf, ninf, float32(math.Copysign(0, -1)), 0.1, nan),
		[]uint64{0x3F80, 0xC000, 0x4049, 0x3F80, 0x3F82, 0x3F81, 0x7F80, 0x7F80, 0xFF80, 0x8000, 0x3DCD, 0x7FC0}},
	{"float16_to_float32", ops.Float16, ops.Float32,
		[]uint64{0x3C00, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0xFC00, 0x3555, 0x8000, 0x7E00},
		f32raw(1, pow2(-24), 1023*pow2(-24), pow2(-14), 65504, ninf, 0.333251953125, float32(math.Copysign(0, -1)), nan)},
	{"float16_to_bfloat16", ops.Float16, ops.BFloat16,
		[]uint64{0x3C00, 0x3555, 0x7BFF, 0x0001, 0xFC00, 0x7E00, 0x3C01},
		[]uint64{0x3F80, 0x3EAB, 0x4780, 0x3380, 0xFF80, 0x7FC0, 0x3F80}},
	{"bfloat16_to_float32", ops.BFloat16, ops.Float32,
		[]uint64{0x3F80, 0x4049, 0xFF80, 0x0001, 0x7FC0},
		f32raw(1, 3.140625, ninf, math.Float32frombits(0x00010000), nan)},
	{"bfloat16_to_float16", ops.BFloat16, ops.Float16,
		[]uint64{0x3F80, 0x4780, 0x3DCD, 0xFF80, 0x3380, 0x3300, 0x7FC0, 0x4049, 0x7F7F},
		[]uint64{0x3C00, 0x7C00, 0x2E68, 0xFC00, 0x0001, 0x0000, 0x7E00, 0x4248, 0x7C00}},
	{"float32_to_float32", ops.Float32, ops.Float32,
		f32raw(1, -0.1, pow2(-140), pinf, nan), f32raw(1, -0.1, pow2(-140), pinf, nan)},
	{"float32_to_int32_truncates", ops.Float32, ops.Int32,
		f32raw(-2.7, -0.5, 0, 0.9, 1.5, 2.5, 123456.9, -2147483520, 3.7, -3.7),
		intRaw(-2, 0, 0, 0, 1, 2, 123456, -2147483520, 3, -3)},
	{"float32_to_int32_saturates_nan_is_0", ops.Float32, ops.Int32,
		f32raw(nan, 1e10, -1e10, pow2(31), -pow2(31), pinf, ninf, 255.9),
		intRaw(0, math.MaxInt32, math.MinInt32, math.MaxInt32, math.MinInt32, math.MaxInt32, math.MinInt32, 255)},
	{"int32_to_float32_rounds_to_even", ops.Int32, ops.Float32,
		intRaw(0, -1, 16777217, 16777219, 2147483647, -2147483648),
		f32raw(0, -1, 16777216, 16777220, 2147483648, -2147483648)},
	{"float16_to_int32", ops.Float16, ops.Int32,
		[]uint64{0xC300, 0x7BFF, 0x3BFE, 0x0001, 0x3C00, 0xC500, 0x7C00, 0xFC00, 0x7E00},
		intRaw(-3, 65504, 0, 0, 1, -5, math.MaxInt32, math.MinInt32, 0)},
	{"int32_to_float16", ops.Int32, ops.Float16,
		intRaw(2049, 2051, -1, 0, 1),
		[]uint64{0x6800, 0x6802, 0xBC00, 0x0000, 0x3C00}},
	// 65519 is below the midpoint between 65504 and 65536, 65520 on it (and 65536 overflows).
	{"int32_to_float16_overflows_to_inf", ops.Int32, ops.Float16,
		intRaw(65504, 65519, 65520, -70000, 1<<24+1<<13+1),
		[]uint64{0x7BFF, 0x7BFF, 0x7C00, 0xFC00, 0x7C00}},
	// 2^24 + 2^16 + 1 lies just above a bfloat16 midpoint that float32 would round onto: one
	// rounding goes up, two go down. 257 and -259 are ties.
	{"int32_to_bfloat16_rounds_once", ops.Int32, ops.BFloat16,
		intRaw(1<<24+1<<16+1, 1<<24+1<<16, 257, -259),
		[]uint64{0x4B81, 0x4B80, 0x4380, 0xC382}},
	{"bfloat16_to_int32", ops.BFloat16, ops.Int32,
		[]uint64{0x4049, 0xC0A0},
		intRaw(3, -5)},
	{"int64_to_float32", ops.Int64, ops.Float32,
		intRaw(1<<40, -5, 1<<24+1),
		f32raw(1<<40, -5, 1<<24)},
	// 2^60 + 2^36 + 1 lies just above a float32 midpoint; through float64 it would land on it
	// and round down.
	{"int64_to_float32_rounds_once", ops.Int64, ops.Float32,
		intRaw(1<<62+1, math.MaxInt64, math.MinInt64, 1<<60+1<<36+1, -(1<<60 + 1<<36 + 1)),
		f32raw(pow2(62), pow2(63), -pow2(63), pow2(60)+pow2(37), -(pow2(60) + pow2(37)))},
	{"int64_to_bfloat16", ops.Int64, ops.BFloat16,
		intRaw(math.MaxInt64, 3),
		[]uint64{0x5F00, 0x4040}},
	{"float32_to_int64", ops.Float32, ops.Int64,
		f32raw(-3.9, 1<<40, 5e9, 1e10, pow2(62)),
		intRaw(-3, 1<<40, 5000000000, 10000000000, 1<<62)},
	{"float32_to_int64_saturates_nan_is_0", ops.Float32, ops.Int64,
		f32raw(nan, 1e19, -1e19, -pow2(63), pinf, ninf),
		intRaw(0, math.MaxInt64, math.MinInt64, math.MinInt64, math.MaxInt64, math.MinInt64)},
	{"uint8_to_float32", ops.Uint8, ops.Float32,
		intRaw(0, 1, 128, 255),
		f32raw(0, 1, 128, 255)},
	{"float32_to_uint8", ops.Float32, ops.Uint8,
		f32raw(0, 1.9, 127.5, 255),
		intRaw(0, 1, 127, 255)},
	{"float32_to_uint8_saturates_nan_is_0", ops.Float32, ops.Uint8,
		f32raw(300.5, -1.5, 200.9, nan, 0.99, pinf, ninf),
		intRaw(255, 0, 200, 0, 0, 255, 0)},
	// Any nonzero value is true, NaN included; -0 is false.
	{"float32_to_bool", ops.Float32, ops.Bool,
		f32raw(0, float32(math.Copysign(0, -1)), nan, 2, -0.5, ninf),
		intRaw(0, 0, 1, 1, 1, 1)},
	{"bfloat16_to_bool", ops.BFloat16, ops.Bool,
		[]uint64{0x4049, 0x8000, 0x0000, 0x7FC0},
		intRaw(1, 0, 0, 1)},
	{"bool_to_float32", ops.Bool, ops.Float32, intRaw(0, 1), f32raw(0, 1)},
	{"bool_to_float16", ops.Bool, ops.Float16, intRaw(1, 0), []uint64{0x3C00, 0x0000}},
	{"bool_to_int64", ops.Bool, ops.Int64, intRaw(0, 1), intRaw(0, 1)},
	{"int32_to_bool", ops.Int32, ops.Bool, intRaw(0, 5, -3), intRaw(0, 1, 1)},
	{"uint8_to_bool", ops.Uint8, ops.Bool, intRaw(0, 9, 255), intRaw(0, 1, 1)},
	// Integer to integer wraps around (two's complement), as in C.
	{"int64_to_int32_wraps", ops.Int64, ops.Int32,
		intRaw(1<<32+5, -1, math.MaxInt64, math.MinInt32),
		intRaw(5, -1, -1, math.MinInt32)},
	{"int32_to_uint8_wraps", ops.Int32, ops.Uint8, intRaw(300, -1, 7), intRaw(44, 255, 7)},
	{"int32_to_int64", ops.Int32, ops.Int64, intRaw(-7, math.MaxInt32), intRaw(-7, math.MaxInt32)},
	{"uint8_to_int32", ops.Uint8, ops.Int32, intRaw(200, 0), intRaw(200, 0)},
	{"int64_to_int64", ops.Int64, ops.Int64, intRaw(-5, 1<<40), intRaw(-5, 1<<40)},
}

// encode writes raw elements of dt as little-endian bytes.
func encode(dt ops.DType, raw []uint64) []byte {
	size := dt.Size()
	out := make([]byte, len(raw)*size)
	for i, v := range raw {
		var buf [8]byte
		binary.LittleEndian.PutUint64(buf[:], v)
		copy(out[i*size:], buf[:size])
	}
	return out
}

// decode reads little-endian raw elements of dt (integers sign-extended).
func decode(dt ops.DType, b []byte) []uint64 {
	size := dt.Size()
	out := make([]uint64, len(b)/size)
	for i := range out {
		var buf [8]byte
		copy(buf[:], b[i*size:(i+1)*size])
		v := binary.LittleEndian.Uint64(buf[:])
		if (dt == ops.Int32) && v&(1<<31) != 0 {
			v |= 0xffffffff00000000
		}
		out[i] = v
	}
	return out
}

// isNaN reports whether raw is a NaN of the floating-point type dt.
func isNaN(dt ops.DType, raw uint64) bool {
	switch dt {
	case ops.Float32:
		return raw&0x7fffffff > 0x7f800000
	case ops.Float16:
		return raw&0x7fff > 0x7c00
	case ops.BFloat16:
		return raw&0x7fff > 0x7f80
	}
	return false
}

func testCast(t *testing.T, b ops.Backend) {
	for _, c := range castCases {
		run(t, b, c.name, func(e *env) {
			shape := ops.Shape{len(c.in)}
			X, Y := e.alloc(c.from, shape), e.alloc(c.to, shape)
			b.Write(X, encode(c.from, c.in))
			b.Fill(Y, 77) // a value none of the cases expects
			b.Cast(X, Y)
			got := decode(c.to, e.readBytes(Y))
			for i, w := range c.want {
				ok := got[i] == w
				if isNaN(c.to, w) {
					ok = isNaN(c.to, got[i])
				}
				if !ok {
					e.t.Errorf("Cast %v %#x to %v: got %s, want %s", c.from, c.in[i], c.to, rawString(c.to, got[i]), rawString(c.to, w))
				}
			}
			e.sync()
		})
	}
	// 2-D shapes, long enough to be split across threads, round trip from float32 through each
	// narrower type: to the nearest float16 or bfloat16, or truncated by the integers. The values
	// that come back are held exactly by the middle type, so casting them again gives its bits.
	roundTrips := []struct {
		dt    ops.DType
		round func(float64) float64
	}{
		{ops.Float16, roundToFloat16},
		{ops.BFloat16, roundToBFloat16},
		{ops.Int32, math.Trunc},
		{ops.Int64, math.Trunc},
	}
	for _, rt := range roundTrips {
		run(t, b, "float32_"+rt.dt.String()+"_round_trip_300x337", func(e *env) {
			shape := ops.Shape{300, 337}
			x := e.randnScaled(shape.Numel(), 0, 100)
			X, M, Y, M2 := e.tensor(shape, x), e.alloc(rt.dt, shape), e.out(shape), e.alloc(rt.dt, shape)
			b.Cast(X, M)
			b.Cast(M, Y)
			want := make([]float64, len(x))
			for i, v := range x {
				want[i] = rt.round(float64(v))
			}
			e.exact("y", e.read(Y), want)
			b.Cast(Y, M2)
			e.sameBytes(rt.dt.String()+" cast again", e.readBytes(M2), e.readBytes(M))
			e.sync()
		})
	}
	// Integers come back unchanged from every type that holds them: int32 within float32's 24
	// bits, and every uint8.
	run(t, b, "int32_round_trips_300x337", func(e *env) {
		shape := ops.Shape{300, 337}
		ints := make([]uint64, shape.Numel())
		for i := range ints {
			ints[i] = uint64(e.rng.Int64N(1<<25) - 1<<24)
		}
		for _, dt := range []ops.DType{ops.Float32, ops.Int64} {
			X, M, Y := e.alloc(ops.Int32, shape), e.alloc(dt, shape), e.alloc(ops.Int32, shape)
			b.Write(X, encode(ops.Int32, ints))
			b.Fill(Y, 77)
			b.Cast(X, M)
			b.Cast(M, Y)
			e.sameBytes("int32 through "+dt.String(), e.readBytes(Y), encode(ops.Int32, ints))
		}
		e.sync()
	})
	run(t, b, "uint8_round_trips", func(e *env) {
		all := make([]uint64, 256)
		for i := range all {
			all[i] = uint64(i)
		}
		shape := ops.Shape{256}
		for _, dt := range []ops.DType{ops.Float32, ops.Float16, ops.BFloat16, ops.Int32, ops.Int64} {
			X, M, Y := e.alloc(ops.Uint8, shape), e.alloc(dt, shape), e.alloc(ops.Uint8, shape)
			b.Write(X, encode(ops.Uint8, all))
			b.Fill(Y, 77)
			b.Cast(X, M)
			b.Cast(M, Y)
			e.sameBytes("uint8 through "+dt.String(), e.readBytes(Y), encode(ops.Uint8, all))
		}
		e.sync()
	})
}

// roundToFloat16 rounds v to the nearest float16 value (ties to even) by arithmetic on float64,
// for values in float16's range.
func roundToFloat16(v float64) float64 { return roundToPrecision(v, 11, -14) }

// roundToBFloat16 rounds v to the nearest bfloat16 value (ties to even) by arithmetic on float64,
// for values in bfloat16's range.
func roundToBFloat16(v float64) float64 { return roundToPrecision(v, 8, -126) }

// roundToPrecision rounds v to the nearest number with sig significant bits, ties to even, where
// the smallest normal number is 2^minExp (below it the spacing stays that of the subnormals).
func roundToPrecision(v float64, sig, minExp int) float64 {
	if v == 0 {
		return v
	}
	_, exp := math.Frexp(math.Abs(v)) // |v| = f * 2^exp, f in [0.5, 1)
	exp = max(exp, minExp+1)
	ulp := math.Ldexp(1, exp-sig)
	return math.RoundToEven(v/ulp) * ulp
}

func rawString(dt ops.DType, raw uint64) string {
	switch dt {
	case ops.Float32:
		return fmt.Sprintf("%#08x (%v)", raw, math.Float32frombits(uint32(raw)))
	case ops.Float16, ops.BFloat16:
		return fmt.Sprintf("%#04x", raw)
	}
	return fmt.Sprint(int64(raw))
}
