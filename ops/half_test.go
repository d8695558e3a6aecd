package ops

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// f16Ref is the value of float16 bits h from the definition: (-1)^s * 2^(e-15) * 1.m, or
// (-1)^s * 2^-24 * m for subnormals.
func f16Ref(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e, m := int(h>>10)&0x1f, float64(h&0x3ff)
	switch {
	case e == 0x1f && m == 0:
		return math.Inf(int(sign))
	case e == 0x1f:
		return math.NaN()
	case e == 0:
		return sign * math.Ldexp(m, -24)
	}
	return sign * math.Ldexp(1+m/1024, e-15)
}

func isNaN16(h uint16) bool { return h&0x7c00 == 0x7c00 && h&0x3ff != 0 }

func TestFloat16ValueAllPatterns(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		got, want := float64(Float16Value(h)), f16Ref(h)
		if isNaN16(h) {
			if !math.IsNaN(got) || math.Signbit(got) != (h&0x8000 != 0) {
				t.Fatalf("Float16Value(%#04x) = %v, want NaN with the same sign", h, got)
			}
			continue
		}
		if got != want || math.Signbit(got) != math.Signbit(want) {
			t.Fatalf("Float16Value(%#04x) = %v, want %v", h, got, want)
		}
	}
}

func TestFloat16RoundTripAllPatterns(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		back := Float16Bits(Float16Value(h))
		if isNaN16(h) {
			if !isNaN16(back) || back&0x8000 != h&0x8000 || back&0x200 == 0 {
				t.Fatalf("NaN %#04x came back as %#04x, want a quiet NaN with the same sign", h, back)
			}
			continue
		}
		if back != h {
			t.Fatalf("Float16Bits(Float16Value(%#04x)) = %#04x", h, back)
		}
	}
}

func TestFloat16BitsKnownValues(t *testing.T) {
	tests := []struct {
		name string
		in   float64
		want uint16
	}{
		{"one", 1, 0x3c00},
		{"minus two", -2, 0xc000},
		{"zero", 0, 0x0000},
		{"minus zero", math.Copysign(0, -1), 0x8000},
		{"tie to even down", 1 + 0x1p-11, 0x3c00},
		{"tie to even up", 1 + 3*0x1p-11, 0x3c02},
		{"just above a tie", 1 + 0x1p-11 + 0x1p-20, 0x3c01},
		{"just below a tie", 1 + 3*0x1p-11 - 0x1p-20, 0x3c01},
		{"max finite", 65504, 0x7bff},
		{"below the overflow tie", 65519.99, 0x7bff},
		{"overflow tie", 65520, 0x7c00},
		{"overflow", 1e10, 0x7c00},
		{"negative overflow", -1e10, 0xfc00},
		{"max float32", math.MaxFloat32, 0x7c00},
		{"inf", math.Inf(1), 0x7c00},
		{"minus inf", math.Inf(-1), 0xfc00},
		{"smallest normal", 0x1p-14, 0x0400},
		{"smallest subnormal", 0x1p-24, 0x0001},
		{"minus smallest subnormal", -0x1p-24, 0x8001},
		{"largest subnormal", 1023 * 0x1p-24, 0x03ff},
		{"subnormal tie up into normal", 1023.5 * 0x1p-24, 0x0400},
		{"half the smallest subnormal: tie to zero", 0x1p-25, 0x0000},
		{"just above half the smallest subnormal", 0x1p-25 + 0x1p-40, 0x0001},
		{"subnormal tie to even", 3 * 0x1p-25, 0x0002},
		{"underflow", 0x1p-26, 0x0000},
		{"negative underflow", -0x1p-30, 0x8000},
		{"tiny float32 subnormal", math.SmallestNonzeroFloat32, 0x0000},
	}
	for _, tt := range tests {
		if got := Float16Bits(float32(tt.in)); got != tt.want {
			t.Errorf("%s: Float16Bits(%v) = %#04x, want %#04x", tt.name, tt.in, got, tt.want)
		}
	}
	if h := Float16Bits(float32(math.NaN())); !isNaN16(h) {
		t.Errorf("Float16Bits(NaN) = %#04x, want a NaN", h)
	}
}

// TestFloat16BitsNearest checks Float16Bits on random float32 values against the nearest float16
// found by searching the ordered positive patterns.
func TestFloat16BitsNearest(t *testing.T) {
	vals := make([]float64, 0x7c00) // values of 0x0000..0x7bff, increasing
	for h := range vals {
		vals[h] = f16Ref(uint16(h))
	}
	nearest := func(f float64) uint16 {
		a := math.Abs(f)
		var h uint16
		if a >= 65520 {
			h = 0x7c00
		} else {
			i := sort.SearchFloat64s(vals, a) // first value >= a
			switch {
			case i == len(vals):
				h = 0x7bff
			case vals[i] == a || i == 0:
				h = uint16(i)
			default:
				lo, hi := a-vals[i-1], vals[i]-a
				h = uint16(i)
				if lo < hi || (lo == hi && (i-1)%2 == 0) {
					h = uint16(i - 1)
				}
			}
		}
		if math.Signbit(f) {
			h |= 0x8000
		}
		return h
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		// float32 bits with exponents around float16's range, random sign and mantissa
		e := uint32(95 + rng.IntN(55))
		b := rng.Uint32()&0x807fffff | e<<23
		f := math.Float32frombits(b)
		if got, want := Float16Bits(f), nearest(float64(f)); got != want {
			t.Fatalf("Float16Bits(%v [%#08x]) = %#04x, want %#04x", f, b, got, want)
		}
	}
}

func TestBFloat16(t *testing.T) {
	tests := []struct {
		name string
		in   float64
		want uint16
	}{
		{"one", 1, 0x3f80},
		{"minus one", -1, 0xbf80},
		{"pi", math.Pi, 0x4049},
		{"tie to even down", 1 + 0x1p-8, 0x3f80},
		{"tie to even up", 1 + 3*0x1p-8, 0x3f82},
		{"above a tie", 1 + 0x1p-8 + 0x1p-20, 0x3f81},
		{"inf", math.Inf(1), 0x7f80},
		{"minus inf", math.Inf(-1), 0xff80},
		{"max float32 rounds to inf", math.MaxFloat32, 0x7f80},
		{"minus zero", math.Copysign(0, -1), 0x8000},
		{"float32 subnormal", 0x1p-130, 0x0008},
	}
	for _, tt := range tests {
		if got := BFloat16Bits(float32(tt.in)); got != tt.want {
			t.Errorf("%s: BFloat16Bits(%v) = %#04x, want %#04x", tt.name, tt.in, got, tt.want)
		}
	}
	for _, nan := range []uint32{0x7fc00000, 0x7f800001, 0xff800001, 0x7fffffff} {
		h := BFloat16Bits(math.Float32frombits(nan))
		if h&0x7f80 != 0x7f80 || h&0x7f == 0 || h>>15 != uint16(nan>>31) {
			t.Errorf("BFloat16Bits(NaN %#08x) = %#04x, want a NaN with the same sign", nan, h)
		}
	}
	for i := range 1 << 16 {
		h := uint16(i)
		f := BFloat16Value(h)
		if math.Float32bits(f) != uint32(h)<<16 {
			t.Fatalf("BFloat16Value(%#04x) = %v", h, f)
		}
		if h&0x7f80 == 0x7f80 && h&0x7f != 0 {
			continue // NaN payloads may be quietened
		}
		if back := BFloat16Bits(f); back != h {
			t.Fatalf("BFloat16Bits(BFloat16Value(%#04x)) = %#04x", h, back)
		}
	}
}
