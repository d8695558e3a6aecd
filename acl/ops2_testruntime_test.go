//go:build cgo

package acl

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"
)

// This file checks the pooling, reduction, matrix, loss and in-place operators through the binding
// against the test runtime. Every expected value is computed here in float64 (not by the runtime's C),
// and the backward operators are checked against central differences of those references.

// ---- element encoding ----

// toHalf rounds x (through float32, as a device cast does) to the nearest float16, ties to even.
func toHalf(x float64) uint16 {
	b := math.Float32bits(float32(x))
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23&0xff) - 127
	man := b & 0x7fffff
	switch {
	case exp == 128:
		if man != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp > 15:
		return sign | 0x7c00
	case exp >= -14:
		h := uint32(exp+15)<<10 | man>>13
		if rest := man & 0x1fff; rest > 0x1000 || (rest == 0x1000 && h&1 == 1) {
			h++ // a carry into the exponent is still the right value (up to infinity)
		}
		return sign | uint16(h)
	}
	shift := uint(-exp - 1) // float16 subnormals count units of 2^-24
	if shift > 24 {
		return sign
	}
	m := man | 0x800000
	h := m >> shift
	rest, half := m&(1<<shift-1), uint32(1)<<(shift-1)
	if rest > half || (rest == half && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}

func fromHalf(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e, m := int(h>>10&0x1f), float64(h&0x3ff)
	switch e {
	case 0:
		return sign * m * math.Ldexp(1, -24)
	case 31:
		if m == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * (1 + m/1024) * math.Ldexp(1, e-15)
}

// quantize is the value x becomes when stored as dt (casts to integers truncate toward zero).
func quantize(dt DataType, x float64) float64 {
	switch dt {
	case Float32:
		return float64(float32(x))
	case Float16:
		return fromHalf(toHalf(x))
	case Bool:
		if x != 0 {
			return 1
		}
		return 0
	case Int8, Uint8, Int32, Int64:
		return math.Trunc(x)
	}
	return x
}

func encode(dt DataType, v []float64) []byte {
	sz := dt.Size()
	b := make([]byte, sz*len(v))
	for i, x := range v {
		p := b[i*sz:]
		switch dt {
		case Float32:
			binary.LittleEndian.PutUint32(p, math.Float32bits(float32(x)))
		case Float16:
			binary.LittleEndian.PutUint16(p, toHalf(x))
		case Float64:
			binary.LittleEndian.PutUint64(p, math.Float64bits(x))
		case Int8:
			p[0] = byte(int8(x))
		case Uint8:
			p[0] = byte(uint8(x))
		case Bool:
			p[0] = byte(quantize(Bool, x))
		case Int32:
			binary.LittleEndian.PutUint32(p, uint32(int32(x)))
		case Int64:
			binary.LittleEndian.PutUint64(p, uint64(int64(x)))
		default:
			panic("encode: " + dt.String())
		}
	}
	return b
}

func decode(dt DataType, b []byte) []float64 {
	sz := dt.Size()
	v := make([]float64, len(b)/sz)
	for i := range v {
		p := b[i*sz:]
		switch dt {
		case Float32:
			v[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(p)))
		case Float16:
			v[i] = fromHalf(binary.LittleEndian.Uint16(p))
		case Float64:
			v[i] = math.Float64frombits(binary.LittleEndian.Uint64(p))
		case Int8:
			v[i] = float64(int8(p[0]))
		case Uint8, Bool:
			v[i] = float64(p[0])
		case Int32:
			v[i] = float64(int32(binary.LittleEndian.Uint32(p)))
		case Int64:
			v[i] = float64(int64(binary.LittleEndian.Uint64(p)))
		default:
			panic("decode: " + dt.String())
		}
	}
	return v
}

// ---- fixture helpers ----

func numel(dims []int64) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	return n
}

// buffer allocates n elements of dt and uploads v when it is not nil.
func (f *nnFixture) buffer(dt DataType, n int64, v []float64) Ptr {
	f.t.Helper()
	p, err := f.d.Malloc(uint64(int64(dt.Size()) * n))
	if err != nil {
		f.t.Fatal(err)
	}
	f.ptrs = append(f.ptrs, p)
	if v != nil {
		if int64(len(v)) != n {
			f.t.Fatalf("%d values for %d elements", len(v), n)
		}
		if err := f.d.CopyToDevice(p, encode(dt, v)); err != nil {
			f.t.Fatal(err)
		}
	}
	return p
}

// tensorOf is tensor for any element type.
func (f *nnFixture) tensorOf(dt DataType, dims []int64, v []float64) (*Tensor, Ptr) {
	f.t.Helper()
	p := f.buffer(dt, numel(dims), v)
	tn, err := f.l.NewTensor(dt, dims, p)
	if err != nil {
		f.t.Fatal(err)
	}
	f.keep(tn)
	return tn, p
}

// view describes dims with strides at offset over a buffer of storage elements at p.
func (f *nnFixture) view(dt DataType, p Ptr, storage int64, dims, strides []int64, offset int64) *Tensor {
	f.t.Helper()
	tn, err := f.l.NewTensorView(dt, dims, strides, offset, FormatFor(len(dims)), []int64{storage}, p)
	if err != nil {
		f.t.Fatal(err)
	}
	f.keep(tn)
	return tn
}

func (f *nnFixture) scalarF(v float64) *Scalar {
	f.t.Helper()
	s, err := f.l.NewScalarFloat32(float32(v))
	if err != nil {
		f.t.Fatal(err)
	}
	f.keep(s)
	return s
}

func (f *nnFixture) scalarI(v int64) *Scalar {
	f.t.Helper()
	s, err := f.l.NewScalarInt64(v)
	if err != nil {
		f.t.Fatal(err)
	}
	f.keep(s)
	return s
}

// download synchronizes the stream and reads n elements of dt at p.
func (f *nnFixture) download(dt DataType, p Ptr, n int) []float64 {
	f.t.Helper()
	if err := f.s.Synchronize(); err != nil {
		f.t.Fatal(err)
	}
	b := make([]byte, n*dt.Size())
	if err := f.d.CopyToHost(b, p); err != nil {
		f.t.Fatal(err)
	}
	return decode(dt, b)
}

// tolFor is the comparison tolerance (relative, and absolute near zero) for results of type dt.
func tolFor(dt DataType) float64 {
	if dt == Float16 {
		return 2e-3
	}
	if dt == Float32 {
		return 1e-5
	}
	return 0
}

// compare checks got against want: NaN must be NaN, infinities equal, other values within tol relative
// (tol/10 absolute near zero).
func (f *nnFixture) compare(name string, got, want []float64, tol float64) {
	f.t.Helper()
	if len(got) != len(want) {
		f.t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	bad := 0
	for i, w := range want {
		g := got[i]
		ok := false
		switch {
		case math.IsNaN(w):
			ok = math.IsNaN(g)
		case math.IsInf(w, 0):
			ok = g == w
		default:
			ok = math.Abs(g-w) <= tol*math.Abs(w)+tol/10
		}
		if !ok {
			if bad++; bad <= 8 {
				f.t.Errorf("%s[%d]: got %.9g, want %.9g", name, i, g, w)
			}
		}
	}
	if bad > 8 {
		f.t.Errorf("%s: %d values differ", name, bad)
	}
}

// expectDT downloads len(want) elements of dt at p and compares them with want at dt's tolerance.
func (f *nnFixture) expectDT(name string, dt DataType, p Ptr, want []float64) {
	f.t.Helper()
	f.compare(name, f.download(dt, p, len(want)), want, tolFor(dt))
}

func quantizeAll(dt DataType, v []float64) []float64 {
	q := make([]float64, len(v))
	for i, x := range v {
		q[i] = quantize(dt, x)
	}
	return q
}

// spread returns n distinct values in [-1, 1) at least 2/n apart, shuffled.
func spread(n int, seed int) []float64 {
	v := make([]float64, n)
	step := 7919 % n
	for step == 0 || gcd(step, n) != 1 {
		step++
	}
	for i := range v {
		v[i] = float64(float32(float64((i*step+seed)%n)/float64(n)*2 - 1))
	}
	return v
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// ---- max pooling ----

type poolGeom struct {
	n, c, h, w     int
	kh, kw, sh, sw int
	ph, pw         int
	ceil           bool
}

func poolSize(in, k, p, s int, ceil bool) int {
	span := in + 2*p - k
	o := span/s + 1
	if ceil {
		o = (span+s-1)/s + 1
		if (o-1)*s >= in+p {
			o-- // the last window must start inside the input or the leading padding
		}
	}
	return o
}

func (g poolGeom) out() (int, int) {
	return poolSize(g.h, g.kh, g.ph, g.sh, g.ceil), poolSize(g.w, g.kw, g.pw, g.sw, g.ceil)
}

func (g poolGeom) maskWidth() int {
	ho, wo := g.out()
	return ((ho*wo+15)/16 + 1) * 32
}

// maxPool is the reference forward: the window maxima and the winning tap of each output (the largest
// in-bounds value, the first of equals, the first NaN over any number).
func maxPool(g poolGeom, x []float64) (y []float64, win []int) {
	ho, wo := g.out()
	planes := g.n * g.c
	y, win = make([]float64, planes*ho*wo), make([]int, planes*ho*wo)
	for pl := 0; pl < planes; pl++ {
		for oh := 0; oh < ho; oh++ {
			for ow := 0; ow < wo; ow++ {
				best, tap := math.Inf(-1), -1
				for kh := 0; kh < g.kh; kh++ {
					for kw := 0; kw < g.kw; kw++ {
						ih, iw := oh*g.sh-g.ph+kh, ow*g.sw-g.pw+kw
						if ih < 0 || ih >= g.h || iw < 0 || iw >= g.w {
							continue
						}
						v := x[(pl*g.h+ih)*g.w+iw]
						if tap < 0 || v > best || (math.IsNaN(v) && !math.IsNaN(best)) {
							best, tap = v, kh*g.kw+kw
						}
					}
				}
				k := (pl*ho+oh)*wo + ow
				y[k], win[k] = best, tap
			}
		}
	}
	return y, win
}

// poolMask is the mask bytes of the winners: row (plane, tap), bit j = ho*Wo+wo at byte j/8, bit j%8.
func poolMask(g poolGeom, win []int) []float64 {
	ho, wo := g.out()
	mw, kk := g.maskWidth(), g.kh*g.kw
	m := make([]byte, g.n*g.c*kk*mw)
	for k, tap := range win {
		pl, j := k/(ho*wo), k%(ho*wo)
		m[(pl*kk+tap)*mw+j/8] |= 1 << (j % 8)
	}
	v := make([]float64, len(m))
	for i, b := range m {
		v[i] = float64(int8(b))
	}
	return v
}

// poolRoute is the reference backward: each output's gradient added at its winner's input position.
func poolRoute(g poolGeom, win []int, gy []float64) []float64 {
	ho, wo := g.out()
	gx := make([]float64, g.n*g.c*g.h*g.w)
	for k, tap := range win {
		pl, j := k/(ho*wo), k%(ho*wo)
		ih, iw := j/wo*g.sh-g.ph+tap/g.kw, j%wo*g.sw-g.pw+tap%g.kw
		gx[(pl*g.h+ih)*g.w+iw] += gy[k]
	}
	return gx
}

// checkMaxPool runs the forward and the backward on x (nil: distinct values) and checks out, the mask
// bytes and gradInput (against central differences when the values are distinct).
func (f *nnFixture) checkMaxPool(name string, dt DataType, g poolGeom, x []float64, threeD bool, attrs [4]*IntArray) {
	f.t.Helper()
	ho, wo := g.out()
	distinct := x == nil
	if distinct {
		x = spread(g.n*g.c*g.h*g.w, 3)
	}
	x = quantizeAll(dt, x)
	xdims := []int64{int64(g.n), int64(g.c), int64(g.h), int64(g.w)}
	ydims := []int64{int64(g.n), int64(g.c), int64(ho), int64(wo)}
	mdims := []int64{int64(g.n), int64(g.c), int64(g.kh * g.kw), int64(g.maskWidth())}
	if threeD {
		xdims, ydims, mdims = xdims[1:], ydims[1:], mdims[1:]
	}
	tx, _ := f.tensorOf(dt, xdims, x)
	ty, py := f.tensorOf(dt, ydims, nil)
	tm, pm := f.tensorOf(Int8, mdims, nil)
	if err := f.d.MaxPool2dWithMask(f.s, f.ws, tx, attrs[0], attrs[1], attrs[2], attrs[3], g.ceil, ty, tm); err != nil {
		f.t.Fatalf("%s: %v", name, err)
	}
	y, win := maxPool(g, x)
	f.expectDT(name+" out", dt, py, quantizeAll(dt, y))
	f.compare(name+" mask", f.download(Int8, pm, int(numel(mdims))), poolMask(g, win), 0)

	gy := quantizeAll(dt, values(len(y), 5))
	tgy, _ := f.tensorOf(dt, ydims, gy)
	tgx, pgx := f.tensorOf(dt, xdims, nil)
	if err := f.d.MaxPool2dWithMaskBackward(f.s, f.ws, tgy, tx, tm, attrs[0], attrs[1], attrs[2], attrs[3], g.ceil,
		tgx); err != nil {
		f.t.Fatalf("%s backward: %v", name, err)
	}
	want := poolRoute(g, win, gy)
	if distinct {
		want = gradient(x, gy, func(v []float64) []float64 { y, _ := maxPool(g, v); return y })
	}
	f.expectDT(name+" gradInput", dt, pgx, quantizeAll(dt, want))
}

func (f *nnFixture) testMaxPool() {
	pair := func(a, b int) *IntArray { return f.ints(int64(a), int64(b)) }
	std := func(g poolGeom) [4]*IntArray {
		return [4]*IntArray{pair(g.kh, g.kw), pair(g.sh, g.sw), pair(g.ph, g.pw), pair(1, 1)}
	}
	for _, c := range []struct {
		name   string
		g      poolGeom
		dt     DataType
		threeD bool
	}{
		{"k3 s2 p1 odd", poolGeom{n: 2, c: 2, h: 7, w: 9, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1}, Float32, false},
		{"k3 s2 p1 ceil", poolGeom{n: 2, c: 2, h: 6, w: 9, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1, ceil: true}, Float32, false},
		{"k3 s2 p1 floor", poolGeom{n: 2, c: 2, h: 6, w: 9, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1}, Float32, false},
		// ceil mode drops the window that would start in the trailing padding: 5 rows give 3, not 4.
		{"k2 s2 p1 ceil drop", poolGeom{n: 1, c: 3, h: 5, w: 5, kh: 2, kw: 2, sh: 2, sw: 2, ph: 1, pw: 1, ceil: true}, Float32, false},
		{"k3x2 s1x2 3-d", poolGeom{n: 1, c: 2, h: 5, w: 7, kh: 3, kw: 2, sh: 1, sw: 2, ph: 1, pw: 0}, Float32, true},
		{"k3 s2 p1 float16", poolGeom{n: 1, c: 2, h: 7, w: 7, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1}, Float16, false},
	} {
		if c.g.ceil {
			ho, _ := c.g.out()
			floor := poolSize(c.g.h, c.g.kh, c.g.ph, c.g.sh, false)
			if c.name == "k2 s2 p1 ceil drop" && ho != floor {
				f.t.Fatalf("%s: the geometry does not exercise the dropped window", c.name)
			} else if c.name == "k3 s2 p1 ceil" && ho == floor {
				f.t.Fatalf("%s: ceil mode does not change the size", c.name)
			}
		}
		f.checkMaxPool("MaxPool2dWithMask "+c.name, c.dt, c.g, nil, c.threeD, std(c.g))
	}

	// One-value kernel and padding arrays and an empty stride (the kernel size).
	g := poolGeom{n: 1, c: 2, h: 6, w: 6, kh: 2, kw: 2, sh: 2, sw: 2, ph: 1, pw: 1}
	f.checkMaxPool("MaxPool2dWithMask short attributes", Float32, g, nil, false,
		[4]*IntArray{f.ints(2), f.ints(), f.ints(1), f.ints(1)})

	// Ties go to the first tap, an all-lowest window records its first tap. (NaN and -Inf input are
	// contract violations: the operator does not take them.)
	low := -math.MaxFloat32
	g = poolGeom{n: 1, c: 1, h: 4, w: 4, kh: 2, kw: 2, sh: 2, sw: 2}
	x := []float64{
		5, 5, 1, 9,
		1, 2, 9, 9,
		low, low, 0, 3,
		low, low, 3, 3,
	}
	_, win := maxPool(g, x)
	if fmt.Sprint(win) != "[0 1 0 1]" {
		f.t.Fatalf("the reference picks taps %v", win)
	}
	f.checkMaxPool("MaxPool2dWithMask ties", Float32, g, x, false, std(g))
	// Padded positions never win: a window of lowest in-bounds values records its first in-bounds tap.
	g = poolGeom{n: 1, c: 1, h: 3, w: 3, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1}
	x = []float64{low, low, low, low, low, low, low, low, 1}
	_, win = maxPool(g, x)
	if fmt.Sprint(win) != "[4 3 1 4]" {
		f.t.Fatalf("the reference picks taps %v", win)
	}
	f.checkMaxPool("MaxPool2dWithMask padding", Float32, g, x, false, std(g))
}

// ---- reductions ----

// reduceRef sums (or averages) x of shape dims over the axes marked in red.
func reduceRef(x []float64, dims []int64, red []bool, mean bool) []float64 {
	outN, count := int64(1), 1.0
	for i, d := range dims {
		if red[i] {
			count *= float64(d)
		} else {
			outN *= d
		}
	}
	out := make([]float64, outN)
	for li := range x {
		rest, o, scale := int64(li), int64(0), int64(1)
		for i := len(dims) - 1; i >= 0; i-- {
			c := rest % dims[i]
			rest /= dims[i]
			if !red[i] {
				o += c * scale
				scale *= dims[i]
			}
		}
		out[o] += x[li]
	}
	if mean {
		for i := range out {
			out[i] /= count
		}
	}
	return out
}

func (f *nnFixture) testReductions() {
	dims := []int64{2, 3, 4}
	for _, c := range []struct {
		name    string
		mean    bool
		dt      DataType
		axes    []int64
		keep    bool
		red     []bool
		outDims []int64
	}{
		{"Mean dims 1,-1 keepDim", true, Float32, []int64{1, -1}, true, []bool{false, true, true}, []int64{2, 1, 1}},
		{"Mean dim 0", true, Float32, []int64{0}, false, []bool{true, false, false}, []int64{3, 4}},
		{"Mean all (empty dim)", true, Float32, []int64{}, false, []bool{true, true, true}, []int64{}},
		{"Mean float16", true, Float16, []int64{2}, false, []bool{false, false, true}, []int64{2, 3}},
		{"ReduceSum dims -2", false, Float32, []int64{-2}, false, []bool{false, true, false}, []int64{2, 4}},
		{"ReduceSum dims 0,2 keepDim", false, Float32, []int64{0, 2}, true, []bool{true, false, true}, []int64{1, 3, 1}},
		{"ReduceSum float16", false, Float16, []int64{0, 1}, false, []bool{true, true, false}, []int64{4}},
	} {
		x := quantizeAll(c.dt, values(int(numel(dims)), 7))
		tx, _ := f.tensorOf(c.dt, dims, x)
		to, po := f.tensorOf(c.dt, c.outDims, nil)
		var err error
		if c.mean {
			err = f.d.Mean(f.s, f.ws, tx, f.ints(c.axes...), c.keep, c.dt, to)
		} else {
			err = f.d.ReduceSum(f.s, f.ws, tx, f.ints(c.axes...), c.keep, c.dt, to)
		}
		if err != nil {
			f.t.Fatalf("%s: %v", c.name, err)
		}
		f.expectDT(c.name, c.dt, po, quantizeAll(c.dt, reduceRef(x, dims, c.red, c.mean)))
	}
	// The global average pool of a network: Mean over H and W of [N, C, H, W].
	nchw := []int64{2, 3, 4, 5}
	x := values(int(numel(nchw)), 9)
	tx, _ := f.tensorOf(Float32, nchw, x)
	to, po := f.tensorOf(Float32, []int64{2, 3, 1, 1}, nil)
	if err := f.d.Mean(f.s, f.ws, tx, f.ints(2, 3), true, Float32, to); err != nil {
		f.t.Fatal(err)
	}
	f.expectDT("Mean global pool", Float32, po, reduceRef(x, nchw, []bool{false, false, true, true}, true))
}

// ---- matrix product ----

func (f *nnFixture) testMm() {
	const M, K, N = 3, 4, 5
	a, b := values(M*K, 11), values(K*N, 12) // row-major [M, K] and [K, N]
	want := make([]float64, M*N)
	for i := 0; i < M; i++ {
		for j := 0; j < N; j++ {
			for k := 0; k < K; k++ {
				want[i*N+j] += a[i*K+k] * b[k*N+j]
			}
		}
	}
	transpose := func(v []float64, r, c int) []float64 { // [r, c] -> [c, r]
		t := make([]float64, len(v))
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				t[j*r+i] = v[i*c+j]
			}
		}
		return t
	}
	for _, c := range []struct {
		name       string
		dt         DataType
		aT, bT     bool
		cubeMathTy int8
	}{
		{"plain", Float32, false, false, 2},
		{"self transposed", Float32, true, false, 1},
		{"mat2 transposed", Float32, false, true, 1},
		{"both transposed", Float32, true, true, 1},
		{"float16 self transposed", Float16, true, false, 0},
	} {
		var ta, tb *Tensor
		if c.aT { // a [K, M] buffer viewed as [M, K] with strides [1, M]
			p := f.buffer(c.dt, M*K, transpose(a, M, K))
			ta = f.view(c.dt, p, M*K, []int64{M, K}, []int64{1, M}, 0)
		} else {
			ta, _ = f.tensorOf(c.dt, []int64{M, K}, a)
		}
		if c.bT { // a [N, K] buffer viewed as [K, N] with strides [1, K]
			p := f.buffer(c.dt, K*N, transpose(b, K, N))
			tb = f.view(c.dt, p, K*N, []int64{K, N}, []int64{1, K}, 0)
		} else {
			tb, _ = f.tensorOf(c.dt, []int64{K, N}, b)
		}
		to, po := f.tensorOf(c.dt, []int64{M, N}, nil)
		if err := f.d.Mm(f.s, f.ws, ta, tb, to, c.cubeMathTy); err != nil {
			f.t.Fatalf("Mm %s: %v", c.name, err)
		}
		w := want
		if c.dt == Float16 {
			qa, qb := quantizeAll(c.dt, a), quantizeAll(c.dt, b)
			w = make([]float64, M*N)
			for i := 0; i < M; i++ {
				for j := 0; j < N; j++ {
					for k := 0; k < K; k++ {
						w[i*N+j] += qa[i*K+k] * qb[k*N+j]
					}
				}
			}
		}
		f.expectDT("Mm "+c.name, c.dt, po, quantizeAll(c.dt, w))
	}
}

// ---- log-softmax and NLL loss ----

// logSoftmax is the reference over x of shape [outer, n, inner] along the middle axis.
func logSoftmax(x []float64, outer, n, inner int) []float64 {
	y := make([]float64, len(x))
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			m := math.Inf(-1)
			for l := 0; l < n; l++ {
				m = math.Max(m, x[(o*n+l)*inner+i])
			}
			s := 0.0
			for l := 0; l < n; l++ {
				s += math.Exp(x[(o*n+l)*inner+i] - m)
			}
			for l := 0; l < n; l++ {
				y[(o*n+l)*inner+i] = x[(o*n+l)*inner+i] - m - math.Log(s)
			}
		}
	}
	return y
}

func (f *nnFixture) testLogSoftmax() {
	for _, c := range []struct {
		name            string
		dt              DataType
		dims            []int64
		dim             int64
		outer, n, inner int
		scale           float64
	}{
		{"[3,5] dim 1", Float32, []int64{3, 5}, 1, 3, 5, 1, 3},
		{"[3,5] dim -1", Float32, []int64{3, 5}, -1, 3, 5, 1, 3},
		{"[2,3,4] dim 1", Float32, []int64{2, 3, 4}, 1, 2, 3, 4, 3},
		{"[2,3,4] dim 0", Float32, []int64{2, 3, 4}, 0, 1, 2, 12, 3},
		{"[4,6] float16", Float16, []int64{4, 6}, 1, 4, 6, 1, 3},
		// exp of these overflows without the max shift
		{"[2,5] large values", Float32, []int64{2, 5}, 1, 2, 5, 1, 1000},
	} {
		x := quantizeAll(c.dt, values(int(numel(c.dims)), 13))
		for i := range x {
			x[i] = quantize(c.dt, c.scale*x[i])
		}
		tx, _ := f.tensorOf(c.dt, c.dims, x)
		ty, py := f.tensorOf(c.dt, c.dims, nil)
		if err := f.d.LogSoftmax(f.s, f.ws, tx, c.dim, ty); err != nil {
			f.t.Fatalf("LogSoftmax %s: %v", c.name, err)
		}
		fwd := func(v []float64) []float64 { return logSoftmax(v, c.outer, c.n, c.inner) }
		f.expectDT("LogSoftmax "+c.name, c.dt, py, quantizeAll(c.dt, fwd(x)))

		gy := quantizeAll(c.dt, values(len(x), 14))
		tgy, _ := f.tensorOf(c.dt, c.dims, gy)
		tgx, pgx := f.tensorOf(c.dt, c.dims, nil)
		if err := f.d.LogSoftmaxBackward(f.s, f.ws, tgy, ty, c.dim, tgx); err != nil {
			f.t.Fatalf("LogSoftmaxBackward %s: %v", c.name, err)
		}
		want := gradient(x, gy, fwd)
		if c.dt == Float16 {
			// the backward reads the float16 forward output: compare with a looser bound
			got := f.download(c.dt, pgx, len(want))
			f.compare("LogSoftmaxBackward "+c.name, got, want, 1e-2)
			continue
		}
		f.expectDT("LogSoftmaxBackward "+c.name, c.dt, pgx, want)
	}
}

// nllLoss is the reference: the per-row losses, the reduced loss and the total weight.
func nllLoss(x []float64, target []int, w []float64, c int, ignore int, reduction int64) (rows []float64, loss, total float64) {
	rows = make([]float64, len(target))
	sum := 0.0
	for n, t := range target {
		if t == ignore {
			continue
		}
		rows[n] = -w[t] * x[n*c+t]
		sum += rows[n]
		total += w[t]
	}
	switch reduction {
	case ReductionMean:
		loss = sum / total
	case ReductionSum:
		loss = sum
	}
	return rows, loss, total
}

func (f *nnFixture) testNLLLoss() {
	const N, C, ignore = 5, 4, 2
	x := logSoftmax(values(N*C, 15), N, C, 1)
	x = quantizeAll(Float32, x)
	target := []int{1, 3, ignore, 0, 3}
	tv := make([]float64, N)
	for i, t := range target {
		tv[i] = float64(t)
	}
	w := []float64{0.5, 1.5, 2, 0.75}
	for _, c := range []struct {
		name      string
		targetDT  DataType
		reduction int64
	}{
		{"none", Int64, ReductionNone},
		{"mean", Int64, ReductionMean},
		{"sum", Int64, ReductionSum},
		{"mean int32 target", Int32, ReductionMean},
		{"sum uint8 target", Uint8, ReductionSum},
	} {
		name := "NLLLoss " + c.name
		tx, _ := f.tensorOf(Float32, []int64{N, C}, x)
		tt, _ := f.tensorOf(c.targetDT, []int64{N}, tv)
		tw, _ := f.tensorOf(Float32, []int64{C}, w)
		outDims := []int64{1}
		if c.reduction == ReductionNone {
			outDims = []int64{N}
		}
		to, po := f.tensorOf(Float32, outDims, nil)
		ttw, ptw := f.tensorOf(Float32, []int64{1}, nil)
		if err := f.d.NLLLoss(f.s, f.ws, tx, tt, tw, c.reduction, ignore, to, ttw); err != nil {
			f.t.Fatalf("%s: %v", name, err)
		}
		_, _, total := nllLoss(x, target, w, C, ignore, c.reduction)
		fwd := func(v []float64) []float64 {
			r, l, _ := nllLoss(v, target, w, C, ignore, c.reduction)
			if c.reduction == ReductionNone {
				return r
			}
			return []float64{l}
		}
		f.expectDT(name, Float32, po, fwd(x))
		if c.reduction != ReductionNone {
			f.expectDT(name+" totalWeight", Float32, ptw, []float64{total})
		}

		gy := values(int(numel(outDims)), 16)
		tgy, _ := f.tensorOf(Float32, outDims, gy)
		tgx, pgx := f.tensorOf(Float32, []int64{N, C}, nil)
		if err := f.d.NLLLossBackward(f.s, f.ws, tgy, tx, tt, tw, c.reduction, ignore, ttw, tgx); err != nil {
			f.t.Fatalf("%s backward: %v", name, err)
		}
		f.expectDT(name+" backward", Float32, pgx, gradient(x, gy, fwd))
	}

	// A single sample: self [C], target [] (0-d), mean over it.
	tx, _ := f.tensorOf(Float32, []int64{C}, x[:C])
	tt, _ := f.tensorOf(Int64, []int64{}, []float64{3})
	tw, _ := f.tensorOf(Float32, []int64{C}, w)
	to, po := f.tensorOf(Float32, []int64{}, nil)
	ttw, ptw := f.tensorOf(Float32, []int64{}, nil)
	if err := f.d.NLLLoss(f.s, f.ws, tx, tt, tw, ReductionMean, -100, to, ttw); err != nil {
		f.t.Fatal(err)
	}
	f.expectDT("NLLLoss [C]", Float32, po, []float64{-x[3]})
	f.expectDT("NLLLoss [C] totalWeight", Float32, ptw, []float64{w[3]})
}

// ---- elementwise and in-place ----

func (f *nnFixture) testElementwise() {
	// Mul broadcasting [N, C, 1, 1] * [1, 1, H, W] to [N, C, H, W], in float32 and float16.
	for _, dt := range []DataType{Float32, Float16} {
		const N, C, H, W = 2, 3, 4, 5
		a, b := quantizeAll(dt, values(N*C, 17)), quantizeAll(dt, values(H*W, 18))
		ta, _ := f.tensorOf(dt, []int64{N, C, 1, 1}, a)
		tb, _ := f.tensorOf(dt, []int64{1, 1, H, W}, b)
		to, po := f.tensorOf(dt, []int64{N, C, H, W}, nil)
		if err := f.d.Mul(f.s, f.ws, ta, tb, to); err != nil {
			f.t.Fatal(err)
		}
		want := make([]float64, N*C*H*W)
		for i := range want {
			want[i] = quantize(dt, a[i/(H*W)]*b[i%(H*W)])
		}
		f.expectDT("Mul broadcast "+dt.String(), dt, po, want)
	}

	// InplaceAdd: selfRef [2, 3] += alpha * other [3].
	self := values(6, 19)
	other := values(3, 20)
	ts, ps := f.tensorOf(Float32, []int64{2, 3}, self)
	to, _ := f.tensorOf(Float32, []int64{3}, other)
	alpha := float64(float32(-1.5))
	if err := f.d.InplaceAdd(f.s, f.ws, ts, to, f.scalarF(alpha)); err != nil {
		f.t.Fatal(err)
	}
	want := make([]float64, 6)
	for i := range want {
		want[i] = self[i] + alpha*other[i%3]
	}
	f.expectDT("InplaceAdd", Float32, ps, want)

	// InplaceAdds and InplaceMuls on float32, float16 and int32.
	for _, dt := range []DataType{Float32, Float16, Int32} {
		v := quantizeAll(dt, []float64{-3, -1.25, 0, 2.5, 7, 100})
		tv, pv := f.tensorOf(dt, []int64{2, 3}, v)
		if err := f.d.InplaceAdds(f.s, f.ws, tv, f.scalarF(0.5), f.scalarF(4)); err != nil {
			f.t.Fatal(err)
		}
		added := make([]float64, len(v))
		for i, x := range v {
			added[i] = quantize(dt, x+4*0.5)
		}
		f.expectDT("InplaceAdds "+dt.String(), dt, pv, added)
		if err := f.d.InplaceMuls(f.s, f.ws, tv, f.scalarF(-0.5)); err != nil {
			f.t.Fatal(err)
		}
		for i := range added {
			added[i] = quantize(dt, added[i]*-0.5)
		}
		f.expectDT("InplaceMuls "+dt.String(), dt, pv, added)
	}

	// A repeatable InplaceMuls rebound to another tensor (selfRef is input 0 and output 0).
	tr, pr := f.tensorOf(Float32, []int64{4}, []float64{1, 2, 3, 4})
	_, pr2 := f.tensorOf(Float32, []int64{4}, []float64{10, 20, 30, 40})
	e, err := f.d.PrepareInplaceMuls(tr, f.scalarF(2))
	if err != nil {
		f.t.Fatal(err)
	}
	if err := e.SetRepeatable(); err != nil {
		f.t.Fatal(err)
	}
	if err := e.Run(f.s, f.ws); err != nil {
		f.t.Fatal(err)
	}
	f.expectDT("InplaceMuls repeatable", Float32, pr, []float64{2, 4, 6, 8})
	if err := e.SetInputAddr(0, tr, pr2); err != nil {
		f.t.Fatal(err)
	}
	if err := e.SetOutputAddr(0, tr, pr2); err != nil {
		f.t.Fatal(err)
	}
	if err := e.Run(f.s, f.ws); err != nil {
		f.t.Fatal(err)
	}
	f.expectDT("InplaceMuls rebound", Float32, pr2, []float64{20, 40, 60, 80})
	f.expectDT("InplaceMuls rebound leaves the first", Float32, pr, []float64{2, 4, 6, 8})
	if err := e.Destroy(); err != nil {
		f.t.Fatal(err)
	}

	// InplaceFillScalar on every kind of type: the value converted as a cast converts it.
	for _, dt := range []DataType{Float32, Float16, Float64, Int8, Int32, Int64, Uint8, Bool} {
		tv, pv := f.tensorOf(dt, []int64{5}, nil)
		if err := f.d.InplaceFillScalar(f.s, f.ws, tv, f.scalarF(2.7)); err != nil {
			f.t.Fatalf("InplaceFillScalar %v: %v", dt, err)
		}
		want := make([]float64, 5)
		for i := range want {
			want[i] = quantize(dt, float64(float32(2.7)))
		}
		f.compare("InplaceFillScalar "+dt.String(), f.download(dt, pv, 5), want, 0)
	}
	tz, pz := f.tensorOf(Int32, []int64{3}, nil)
	if err := f.d.InplaceFillScalar(f.s, f.ws, tz, f.scalarI(-7)); err != nil {
		f.t.Fatal(err)
	}
	f.compare("InplaceFillScalar int scalar", f.download(Int32, pz, 3), []float64{-7, -7, -7}, 0)

	// EqScalar: out is Bool; NaN equals nothing.
	nan := math.NaN()
	te, _ := f.tensorOf(Float32, []int64{2, 3}, []float64{0.5, 1, nan, 0.5, -0.5, 0.25})
	tb, pb := f.tensorOf(Bool, []int64{2, 3}, nil)
	if err := f.d.EqScalar(f.s, f.ws, te, f.scalarF(0.5), tb); err != nil {
		f.t.Fatal(err)
	}
	f.compare("EqScalar float32", f.download(Bool, pb, 6), []float64{1, 0, 0, 1, 0, 0}, 0)
	ti, _ := f.tensorOf(Int32, []int64{4}, []float64{3, -3, 3, 0})
	tb2, pb2 := f.tensorOf(Bool, []int64{4}, nil)
	if err := f.d.EqScalar(f.s, f.ws, ti, f.scalarI(3), tb2); err != nil {
		f.t.Fatal(err)
	}
	f.compare("EqScalar int32", f.download(Bool, pb2, 4), []float64{1, 0, 1, 0}, 0)
	th, _ := f.tensorOf(Float16, []int64{3}, []float64{0.1, 0.2, 0.1})
	tb3, pb3 := f.tensorOf(Bool, []int64{3}, nil)
	if err := f.d.EqScalar(f.s, f.ws, th, f.scalarF(0.1), tb3); err != nil {
		f.t.Fatal(err)
	}
	f.compare("EqScalar float16 (the scalar takes the tensor's type)", f.download(Bool, pb3, 3), []float64{1, 0, 1}, 0)

	f.testInplaceCopy()
}

func (f *nnFixture) testInplaceCopy() {
	// Into a strided interior view: rows 1..2, columns 1..3 of a [4, 6] buffer (offset 7, strides [6, 1]),
	// the others keep their values.
	const R, Cc = 4, 6
	big := make([]float64, R*Cc)
	for i := range big {
		big[i] = float64(100 + i)
	}
	pbig := f.buffer(Float32, R*Cc, big)
	inner := f.view(Float32, pbig, R*Cc, []int64{2, 3}, []int64{Cc, 1}, Cc+1)
	src := values(6, 21)
	tsrc, _ := f.tensorOf(Float32, []int64{2, 3}, src)
	if err := f.d.InplaceCopy(f.s, f.ws, inner, tsrc); err != nil {
		f.t.Fatal(err)
	}
	want := append([]float64(nil), big...)
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			want[(1+i)*Cc+1+j] = src[i*3+j]
		}
	}
	f.expectDT("InplaceCopy into a strided view", Float32, pbig, want)

	// Out of one: a transposed, offset view of the same buffer (column 2.., every other row) into a
	// contiguous float16 tensor.
	col := f.view(Float32, pbig, R*Cc, []int64{3, 2}, []int64{1, 2 * Cc}, 2)
	tdst, pdst := f.tensorOf(Float16, []int64{3, 2}, nil)
	if err := f.d.InplaceCopy(f.s, f.ws, tdst, col); err != nil {
		f.t.Fatal(err)
	}
	got := make([]float64, 6)
	for i := 0; i < 3; i++ {
		for j := 0; j < 2; j++ {
			got[i*2+j] = quantize(Float16, want[2+i+j*2*Cc])
		}
	}
	f.expectDT("InplaceCopy out of a strided view", Float16, pdst, got)

	// Broadcast [3] -> [2, 3] with float32 -> int32 conversion (truncation toward zero).
	trow, _ := f.tensorOf(Float32, []int64{3}, []float64{1.9, -2.7, 3})
	tint, pint := f.tensorOf(Int32, []int64{2, 3}, nil)
	if err := f.d.InplaceCopy(f.s, f.ws, tint, trow); err != nil {
		f.t.Fatal(err)
	}
	f.compare("InplaceCopy broadcast float32 to int32", f.download(Int32, pint, 6), []float64{1, -2, 3, 1, -2, 3}, 0)
	// Broadcast of a middle axis: a [2, 1] column to [2, 3].
	tcol, _ := f.tensorOf(Float32, []int64{2, 1}, []float64{5, -6})
	tmat, pmat := f.tensorOf(Float32, []int64{2, 3}, nil)
	if err := f.d.InplaceCopy(f.s, f.ws, tmat, tcol); err != nil {
		f.t.Fatal(err)
	}
	f.compare("InplaceCopy broadcast [2,1] to [2,3]", f.download(Float32, pmat, 6), []float64{5, 5, 5, -6, -6, -6}, 0)
	// Bool to float32.
	tbool, _ := f.tensorOf(Bool, []int64{3}, []float64{1, 0, 1})
	tf, pf := f.tensorOf(Float32, []int64{3}, nil)
	if err := f.d.InplaceCopy(f.s, f.ws, tf, tbool); err != nil {
		f.t.Fatal(err)
	}
	f.compare("InplaceCopy bool to float32", f.download(Float32, pf, 3), []float64{1, 0, 1}, 0)
}

// testOps2 runs the pooling, reduction, matrix, loss and in-place operators through the binding.
func testOps2(t *testing.T, l *Lib, d *Device, s *Stream) {
	f := &nnFixture{t: t, l: l, d: d, s: s, ws: NewStreamWorkspace(d)}
	f.testMaxPool()
	f.testReductions()
	f.testMm()
	f.testLogSoftmax()
	f.testNLLLoss()
	f.testElementwise()
	f.release()
}
