package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/resnext/resnext/ops"
)

// hostElem is a Go type that holds one element of some dtype: float16 and bfloat16 as their bits
// (uint16), Bool as uint8.
type hostElem interface {
	~float32 | ~int32 | ~int64 | ~uint16 | ~uint8
}

// hostTensor uploads vals as a dtype dt vector.
func hostTensor[T hostElem](k *kit, dt ops.DType, vals []T) ops.Tensor {
	t := k.b.Alloc(dt, ops.Shape{len(vals)})
	k.b.Write(t, ops.Bytes(vals))
	return t
}

// hostValues reads t back as T values.
func hostValues[T hostElem](k *kit, t ops.Tensor) []T {
	k.t.Helper()
	v := make([]T, t.Shape().Numel())
	if err := k.b.Read(t, ops.Bytes(v)); err != nil {
		k.t.Fatal(err)
	}
	return v
}

// castCheck casts src (dtype from) into dtype to and compares the result with want exactly (NaN
// equal to NaN, -0 distinct from +0).
func castCheck[S, D hostElem](k *kit, from ops.DType, src []S, to ops.DType, want []D) {
	k.t.Helper()
	y := k.b.Alloc(to, ops.Shape{len(src)})
	k.b.Cast(hostTensor(k, from, src), y)
	if got := hostValues[D](k, y); fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
		k.t.Errorf("Cast %v %v -> %v:\n got %#v\nwant %#v", from, src, to, got, want)
	}
}

func TestCastFloats(t *testing.T) {
	k := newKit(t)
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	castCheck(k, ops.Float32, []float32{1, -2, 65504, 1e5, 0x1p-24, 1 + 0x1p-11, 1 + 3*0x1p-11, negZero, -inf, 0x1p-26},
		ops.Float16, []uint16{0x3c00, 0xc000, 0x7bff, 0x7c00, 0x0001, 0x3c00, 0x3c02, 0x8000, 0xfc00, 0})
	castCheck(k, ops.Float32, []float32{1, math.Pi, 1 + 0x1p-8, 1 + 3*0x1p-8, -inf, math.MaxFloat32},
		ops.BFloat16, []uint16{0x3f80, 0x4049, 0x3f80, 0x3f82, 0xff80, 0x7f80})
	castCheck(k, ops.Float16, []uint16{0x3c00, 0x0001, 0x7bff, 0xfc00, 0x8000},
		ops.Float32, []float32{1, 0x1p-24, 65504, -inf, negZero})
	castCheck(k, ops.BFloat16, []uint16{0x3f80, 0x4049, 0x0001}, ops.Float32, []float32{1, 3.140625, 0x1p-133})
	castCheck(k, ops.Float16, []uint16{0x3c01, 0x7bff, 0x0001}, ops.BFloat16, []uint16{0x3f80, 0x4780, 0x3380})
	castCheck(k, ops.BFloat16, []uint16{0x4049, 0x7f7f, 0x0001}, ops.Float16, []uint16{0x4248, 0x7c00, 0})

	y := k.b.Alloc(ops.Float16, ops.Shape{1})
	k.b.Cast(hostTensor(k, ops.Float32, []float32{nan}), y)
	if h := hostValues[uint16](k, y)[0]; h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("Cast NaN to float16 = %#04x", h)
	}
	k.b.Cast(y, k.b.Alloc(ops.Float32, ops.Shape{1}))
}

func TestCastFloatToInt(t *testing.T) {
	k := newKit(t)
	nan := float32(math.NaN())
	src := []float32{3.7, -3.7, nan, 1e10, -1e10, 0x1p31, -0x1p31, 255.9, -0.5}
	castCheck(k, ops.Float32, src, ops.Int32,
		[]int32{3, -3, 0, math.MaxInt32, math.MinInt32, math.MaxInt32, math.MinInt32, 255, 0})
	castCheck(k, ops.Float32, []float32{3.7, -3.7, nan, 1e10, 1e19, -1e19, -0x1p63, 0x1p62},
		ops.Int64, []int64{3, -3, 0, 10000000000, math.MaxInt64, math.MinInt64, math.MinInt64, 1 << 62})
	castCheck(k, ops.Float32, []float32{300.5, -1.5, 200.9, nan, 0.99}, ops.Uint8, []uint8{255, 0, 200, 0, 0})
	castCheck(k, ops.Float32, []float32{0, float32(math.Copysign(0, -1)), nan, 2, -0.5, float32(math.Inf(-1))},
		ops.Bool, []uint8{0, 0, 1, 1, 1, 1})
	castCheck(k, ops.Float16, []uint16{0x3c00, 0xc500, 0x7c00}, ops.Int32, []int32{1, -5, math.MaxInt32})
	castCheck(k, ops.BFloat16, []uint16{0x4049, 0x8000}, ops.Bool, []uint8{1, 0})
}

func TestCastIntToFloat(t *testing.T) {
	k := newKit(t)
	castCheck(k, ops.Int32, []int32{0, -1, 1<<24 + 1, 1<<24 + 3, math.MaxInt32, math.MinInt32},
		ops.Float32, []float32{0, -1, 1 << 24, 1<<24 + 4, 0x1p31, -0x1p31})
	// 2^60 + 2^36 + 1 lies just above the midpoint of two float32s; going through float64 first
	// would land exactly on the midpoint and round down.
	castCheck(k, ops.Int64, []int64{1<<62 + 1, math.MaxInt64, math.MinInt64, 1<<60 + 1<<36 + 1, -(1<<60 + 1<<36 + 1)},
		ops.Float32, []float32{0x1p62, 0x1p63, -0x1p63, 0x1p60 + 0x1p37, -(0x1p60 + 0x1p37)})
	castCheck(k, ops.Int32, []int32{2049, 2051, 65504, 65519, 65520, -70000, 1<<24 + 1<<13 + 1},
		ops.Float16, []uint16{0x6800, 0x6802, 0x7bff, 0x7bff, 0x7c00, 0xfc00, 0x7c00})
	// 2^24 + 2^16 + 1: float32 rounds it onto a bfloat16 midpoint (2^24 + 2^16); direct rounding goes up.
	castCheck(k, ops.Int32, []int32{1<<24 + 1<<16 + 1, 1<<24 + 1<<16, 257, -259},
		ops.BFloat16, []uint16{0x4b81, 0x4b80, 0x4380, 0xc382})
	castCheck(k, ops.Int64, []int64{math.MaxInt64, 3}, ops.BFloat16, []uint16{0x5f00, 0x4040})
	castCheck(k, ops.Uint8, []uint8{0, 1, 255}, ops.Float32, []float32{0, 1, 255})
	castCheck(k, ops.Bool, []uint8{0, 1, 2}, ops.Float32, []float32{0, 1, 1})
	castCheck(k, ops.Bool, []uint8{1, 0}, ops.Float16, []uint16{0x3c00, 0})
}

func TestCastIntToInt(t *testing.T) {
	k := newKit(t)
	castCheck(k, ops.Int64, []int64{1<<32 + 5, -1, math.MaxInt64}, ops.Int32, []int32{5, -1, -1})
	castCheck(k, ops.Int32, []int32{300, -1, 7}, ops.Uint8, []uint8{44, 255, 7})
	castCheck(k, ops.Int32, []int32{-7, math.MaxInt32}, ops.Int64, []int64{-7, math.MaxInt32})
	castCheck(k, ops.Uint8, []uint8{200, 0}, ops.Int32, []int32{200, 0})
	castCheck(k, ops.Bool, []uint8{0, 1, 2}, ops.Int64, []int64{0, 1, 1})
	castCheck(k, ops.Int32, []int32{0, 5, -3}, ops.Bool, []uint8{0, 1, 1})
	castCheck(k, ops.Uint8, []uint8{0, 9}, ops.Bool, []uint8{0, 1})
	castCheck(k, ops.Int64, []int64{-5, 1 << 40}, ops.Int64, []int64{-5, 1 << 40})
}

// TestCastRoundTrips casts large random tensors (so the parallel path runs) there and back.
func TestCastRoundTrips(t *testing.T) {
	k := newKit(t)
	const n = 100003
	shape := ops.Shape{7, n}
	data := k.randn(shape.Numel(), 100)
	x := k.tensor(shape, data)
	for _, tc := range []struct {
		dt    ops.DType
		round func(float32) float32
	}{
		{ops.Float16, func(v float32) float32 { return ops.Float16Value(ops.Float16Bits(v)) }},
		{ops.BFloat16, func(v float32) float32 { return ops.BFloat16Value(ops.BFloat16Bits(v)) }},
		{ops.Int32, func(v float32) float32 { return float32(math.Trunc(float64(v))) }},
		{ops.Int64, func(v float32) float32 { return float32(math.Trunc(float64(v))) }},
		{ops.Float32, func(v float32) float32 { return v }},
	} {
		mid, back := k.b.Alloc(tc.dt, shape), k.out(shape...)
		k.b.Cast(x, mid)
		k.b.Cast(mid, back)
		got := k.read(back)
		for i, v := range data {
			if w := tc.round(v); got[i] != w {
				t.Fatalf("float32 -> %v -> float32: %v became %v, want %v", tc.dt, v, got[i], w)
			}
		}
		// Values the middle type holds exactly come back unchanged.
		again := k.b.Alloc(tc.dt, shape)
		k.b.Cast(back, again)
		if string(rawBytes(k, again)) != string(rawBytes(k, mid)) {
			t.Errorf("%v -> float32 -> %v changed some values", tc.dt, tc.dt)
		}
	}

	ints := make([]int32, n)
	for i := range ints {
		ints[i] = int32(k.rng.Int64N(1<<25)) - 1<<24
	}
	for _, dt := range []ops.DType{ops.Float32, ops.Int64, ops.Int32} {
		mid, back := k.b.Alloc(dt, ops.Shape{n}), k.b.Alloc(ops.Int32, ops.Shape{n})
		k.b.Cast(hostTensor(k, ops.Int32, ints), mid)
		k.b.Cast(mid, back)
		if fmt.Sprint(hostValues[int32](k, back)) != fmt.Sprint(ints) {
			t.Errorf("int32 -> %v -> int32 changed some values", dt)
		}
	}
	bytes := make([]uint8, 256)
	for i := range bytes {
		bytes[i] = uint8(i)
	}
	for _, dt := range []ops.DType{ops.Float32, ops.Float16, ops.BFloat16, ops.Int32, ops.Int64} {
		mid, back := k.b.Alloc(dt, ops.Shape{256}), k.b.Alloc(ops.Uint8, ops.Shape{256})
		k.b.Cast(hostTensor(k, ops.Uint8, bytes), mid)
		k.b.Cast(mid, back)
		if fmt.Sprint(hostValues[uint8](k, back)) != fmt.Sprint(bytes) {
			t.Errorf("uint8 -> %v -> uint8 changed some values", dt)
		}
	}
}

// rawBytes reads t's bytes.
func rawBytes(k *kit, t ops.Tensor) []byte {
	raw := make([]byte, t.Shape().Numel()*t.DType().Size())
	if err := k.b.Read(t, raw); err != nil {
		k.t.Fatal(err)
	}
	return raw
}

func TestCastMisuse(t *testing.T) {
	k := newKit(t)
	k.panics(func() { k.b.Cast(k.out(2, 3), k.b.Alloc(ops.Float16, ops.Shape{3, 2})) }, "ops.Cast", "[3, 2]", "[2, 3]")
	k.panics(func() { k.b.Cast(nil, k.out(1)) }, "ops.Cast", "nil")
}
