package ops

import (
	"fmt"
	"strings"
	"testing"
)

func TestShapeHelpers(t *testing.T) {
	tests := []struct {
		s      Shape
		numel  int
		str    string
		valid  bool
		rankIs int
	}{
		{Shape{}, 1, "[]", true, 0},
		{Shape{7}, 7, "[7]", true, 1},
		{Shape{2, 3, 224, 224}, 2 * 3 * 224 * 224, "[2, 3, 224, 224]", true, 4},
		{Shape{4, 0, 5}, 0, "[4, 0, 5]", false, 3},
		{Shape{3, -1}, -3, "[3, -1]", false, 2},
	}
	for _, tt := range tests {
		if got := tt.s.Numel(); got != tt.numel {
			t.Errorf("%v.Numel() = %d, want %d", tt.s, got, tt.numel)
		}
		if got := tt.s.String(); got != tt.str {
			t.Errorf("String() = %q, want %q", got, tt.str)
		}
		if got := fmt.Sprint(tt.s); got != tt.str {
			t.Errorf("fmt.Sprint = %q, want %q", got, tt.str)
		}
		if got := tt.s.Valid(); got != tt.valid {
			t.Errorf("%v.Valid() = %v, want %v", tt.s, got, tt.valid)
		}
		if got := tt.s.Rank(); got != tt.rankIs {
			t.Errorf("%v.Rank() = %d, want %d", tt.s, got, tt.rankIs)
		}
		if !tt.s.Equal(tt.s.Clone()) {
			t.Errorf("%v is not Equal to its Clone", tt.s)
		}
	}
}

func TestShapeEqualAndClone(t *testing.T) {
	a := Shape{2, 3, 4}
	for _, o := range []Shape{{2, 3}, {2, 3, 5}, {2, 3, 4, 1}, nil} {
		if a.Equal(o) {
			t.Errorf("%v.Equal(%v) = true", a, o)
		}
	}
	if !(Shape{}).Equal(nil) {
		t.Error("the empty shape and nil differ")
	}
	c := a.Clone()
	c[0] = 9
	if a[0] != 2 {
		t.Error("Clone shares memory with the original")
	}
}

func TestShapeNCHW(t *testing.T) {
	n, c, h, w := Shape{1, 2, 3, 4}.NCHW("Op")
	if n != 1 || c != 2 || h != 3 || w != 4 {
		t.Errorf("NCHW = %d %d %d %d", n, c, h, w)
	}
	msg := panicMessage(func() { Shape{1, 2, 3}.NCHW("Conv2d") })
	if !strings.HasPrefix(msg, "ops.Conv2d: ") || !strings.Contains(msg, "[1, 2, 3]") {
		t.Errorf("NCHW of a rank-3 shape panicked with %q", msg)
	}
}

func TestMisuseMessage(t *testing.T) {
	msg := panicMessage(func() { Misuse("Add", "b has shape %v, want %v", Shape{2}, Shape{3}) })
	if want := "ops.Add: b has shape [2], want [3]"; msg != want {
		t.Errorf("Misuse panicked with %q, want %q", msg, want)
	}
}

func panicMessage(f func()) (msg string) {
	defer func() { msg = fmt.Sprint(recover()) }()
	f()
	return "no panic"
}

func TestSamePadding(t *testing.T) {
	tests := []struct {
		in, kernel, stride int
		before, after      int
	}{
		{112, 3, 2, 0, 1}, // MindCV's stem max pool: 112 -> 56, pad bottom/right only
		{224, 7, 2, 2, 3}, // 224 -> 112
		{56, 3, 1, 1, 1},  // stride 1 keeps the size
		{113, 3, 2, 1, 1}, // odd input: 113 -> 57, total 2
		{7, 2, 3, 0, 1},   // 7 -> 3, total 1
		{8, 1, 3, 0, 0},   // kernel smaller than stride: no padding
		{1, 3, 2, 1, 1},   // 1 -> 1
		{5, 5, 1, 2, 2},
	}
	for _, tt := range tests {
		b, a := SamePadding(tt.in, tt.kernel, tt.stride)
		if b != tt.before || a != tt.after {
			t.Errorf("SamePadding(%d, %d, %d) = %d, %d, want %d, %d", tt.in, tt.kernel, tt.stride, b, a, tt.before, tt.after)
		}
		out := (tt.in+b+a-tt.kernel)/tt.stride + 1
		if want := (tt.in + tt.stride - 1) / tt.stride; out != want {
			t.Errorf("SamePadding(%d, %d, %d) gives output %d, want ceil(in/stride) = %d", tt.in, tt.kernel, tt.stride, out, want)
		}
	}
}

func TestPoolParams(t *testing.T) {
	same := SamePool(3, 2, 112, 111)
	want := Pool2dParams{KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadTop: 0, PadBottom: 1, PadLeft: 1, PadRight: 1}
	if same != want {
		t.Errorf("SamePool(3, 2, 112, 111) = %+v, want %+v", same, want)
	}
	if h, w := same.OutSize(112, 111); h != 56 || w != 56 {
		t.Errorf("SamePool OutSize = %dx%d, want 56x56", h, w)
	}
	tv := Pool(3, 2, 1)
	if tv.PadTop != 1 || tv.PadBottom != 1 || tv.PadLeft != 1 || tv.PadRight != 1 || tv.KernelW != 3 || tv.StrideH != 2 {
		t.Errorf("Pool(3, 2, 1) = %+v", tv)
	}
	if h, w := tv.OutSize(112, 7); h != 56 || w != 4 {
		t.Errorf("Pool(3, 2, 1).OutSize(112, 7) = %dx%d, want 56x4", h, w)
	}
}

func TestConvParams(t *testing.T) {
	p := Conv2dParams{}.Normalized()
	if p.StrideH != 1 || p.StrideW != 1 || p.DilationH != 1 || p.DilationW != 1 || p.Groups != 1 {
		t.Errorf("Normalized zero params = %+v", p)
	}
	tests := []struct {
		p          Conv2dParams
		h, w, r, s int
		ho, wo     int
	}{
		{Conv(2, 3, 1), 224, 224, 7, 7, 112, 112},
		{Conv(1, 1, 32), 56, 56, 3, 3, 56, 56},
		{Conv(2, 1, 32), 56, 55, 3, 3, 28, 28},
		{Conv(1, 0, 1), 7, 7, 1, 1, 7, 7},
		{Conv2dParams{PadH: 2, PadW: 2, DilationH: 2, DilationW: 2}, 9, 9, 3, 3, 9, 9},
		{Conv2dParams{StrideH: 2, PadW: 1}, 8, 8, 3, 3, 3, 8},
	}
	for _, tt := range tests {
		if ho, wo := tt.p.OutSize(tt.h, tt.w, tt.r, tt.s); ho != tt.ho || wo != tt.wo {
			t.Errorf("%+v.OutSize(%d, %d, %d, %d) = %dx%d, want %dx%d", tt.p, tt.h, tt.w, tt.r, tt.s, ho, wo, tt.ho, tt.wo)
		}
	}
}

func TestDType(t *testing.T) {
	tests := []struct {
		d     DType
		name  string
		size  int
		float bool
	}{
		{Float32, "float32", 4, true},
		{Float16, "float16", 2, true},
		{BFloat16, "bfloat16", 2, true},
		{Int32, "int32", 4, false},
		{Int64, "int64", 8, false},
		{Uint8, "uint8", 1, false},
		{Bool, "bool", 1, false},
	}
	for _, tt := range tests {
		if tt.d.String() != tt.name || tt.d.Size() != tt.size || tt.d.IsFloat() != tt.float {
			t.Errorf("%d: got %q size %d float %v, want %q %d %v", tt.d, tt.d, tt.d.Size(), tt.d.IsFloat(), tt.name, tt.size, tt.float)
		}
		got, err := ParseDType(tt.name)
		if err != nil || got != tt.d {
			t.Errorf("ParseDType(%q) = %v, %v", tt.name, got, err)
		}
	}
	for _, bad := range []string{"", "invalid", "Float32", "fp16", "float64"} {
		if d, err := ParseDType(bad); err == nil || d != Invalid {
			t.Errorf("ParseDType(%q) = %v, %v: want an error", bad, d, err)
		} else if !strings.Contains(err.Error(), "float32") {
			t.Errorf("ParseDType(%q) error %q does not list the valid names", bad, err)
		}
	}
	if Invalid.Size() != 0 || DType(200).Size() != 0 || DType(200).String() != "DType(200)" || Invalid.String() != "DType(0)" {
		t.Errorf("invalid dtypes: sizes %d %d, names %q %q", Invalid.Size(), DType(200).Size(), DType(200), Invalid)
	}
}
