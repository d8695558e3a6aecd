//go:build cgo

package acl

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"
)

// nnFixture is the device state the training-op checks share: tensors made from host values,
// downloaded results and the objects to release at the end.
type nnFixture struct {
	t    *testing.T
	l    *Lib
	d    *Device
	s    *Stream
	ws   *StreamWorkspace
	ptrs []Ptr
	objs []interface{ Destroy() error }
}

func (f *nnFixture) keep(o interface{ Destroy() error }) { f.objs = append(f.objs, o) }

// release waits for the stream, then frees the workspace, the objects and the memory.
func (f *nnFixture) release() {
	t := f.t
	if err := f.s.Synchronize(); err != nil {
		t.Fatal(err)
	}
	if err := f.ws.Release(); err != nil {
		t.Error(err)
	}
	for _, o := range f.objs {
		if err := o.Destroy(); err != nil {
			t.Error(err)
		}
	}
	for _, p := range f.ptrs {
		if err := f.d.Free(p); err != nil {
			t.Error(err)
		}
	}
}

// tensor uploads v (nil: left unwritten) as a contiguous float32 tensor of shape dims.
func (f *nnFixture) tensor(dims []int64, v []float64) (*Tensor, Ptr) {
	f.t.Helper()
	n := int64(1)
	for _, x := range dims {
		n *= x
	}
	p, err := f.d.Malloc(uint64(4 * n))
	if err != nil {
		f.t.Fatal(err)
	}
	f.ptrs = append(f.ptrs, p)
	if v != nil {
		if int64(len(v)) != n {
			f.t.Fatalf("%d values for shape %v", len(v), dims)
		}
		b := make([]byte, 4*n)
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(x)))
		}
		if err := f.d.CopyToDevice(p, b); err != nil {
			f.t.Fatal(err)
		}
	}
	tn, err := f.l.NewTensor(Float32, dims, p)
	if err != nil {
		f.t.Fatal(err)
	}
	f.keep(tn)
	return tn, p
}

func (f *nnFixture) ints(v ...int64) *IntArray {
	f.t.Helper()
	a, err := f.l.NewIntArray(v)
	if err != nil {
		f.t.Fatal(err)
	}
	f.keep(a)
	return a
}

func (f *nnFixture) bools(v ...bool) *BoolArray {
	f.t.Helper()
	a, err := f.l.NewBoolArray(v)
	if err != nil {
		f.t.Fatal(err)
	}
	f.keep(a)
	return a
}

// expect synchronizes the stream, downloads n floats at p and compares them with want to 1e-5
// relative (1e-6 absolute near zero).
func (f *nnFixture) expect(name string, p Ptr, want []float64) {
	f.t.Helper()
	if err := f.s.Synchronize(); err != nil {
		f.t.Fatal(err)
	}
	b := make([]byte, 4*len(want))
	if err := f.d.CopyToHost(b, p); err != nil {
		f.t.Fatal(err)
	}
	for i, w := range want {
		g := float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
		if !(math.Abs(g-w) <= 1e-5*math.Abs(w)+1e-6) {
			f.t.Errorf("%s[%d]: got %.9g, want %.9g", name, i, g, w)
		}
	}
}

// values returns n float32-representable values in [-1, 1], different for each seed.
func values(n int, seed float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = float64(float32(math.Sin(float64(i)*0.731 + seed)))
	}
	return v
}

type convGeom struct {
	n, c, h, w, co, kh, kw int
	stride, pad, dil       [2]int
	groups                 int
}

func (g convGeom) out() (int, int) {
	ho := (g.h+2*g.pad[0]-g.dil[0]*(g.kh-1)-1)/g.stride[0] + 1
	wo := (g.w+2*g.pad[1]-g.dil[1]*(g.kw-1)-1)/g.stride[1] + 1
	return ho, wo
}

// conv2d is the float64 reference of a grouped 2-D convolution (bias may be nil).
func conv2d(g convGeom, x, w, bias []float64) []float64 {
	ho, wo := g.out()
	cig, cog := g.c/g.groups, g.co/g.groups
	y := make([]float64, g.n*g.co*ho*wo)
	for n := 0; n < g.n; n++ {
		for co := 0; co < g.co; co++ {
			for oh := 0; oh < ho; oh++ {
				for ow := 0; ow < wo; ow++ {
					acc := 0.0
					if bias != nil {
						acc = bias[co]
					}
					for ci := 0; ci < cig; ci++ {
						cin := co/cog*cig + ci
						for kh := 0; kh < g.kh; kh++ {
							for kw := 0; kw < g.kw; kw++ {
								ih := oh*g.stride[0] - g.pad[0] + kh*g.dil[0]
								iw := ow*g.stride[1] - g.pad[1] + kw*g.dil[1]
								if ih < 0 || ih >= g.h || iw < 0 || iw >= g.w {
									continue
								}
								acc += x[((n*g.c+cin)*g.h+ih)*g.w+iw] * w[((co*cig+ci)*g.kh+kh)*g.kw+kw]
							}
						}
					}
					y[((n*g.co+co)*ho+oh)*wo+ow] = acc
				}
			}
		}
	}
	return y
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// gradient returns d(sum(gy * fn(v)))/dv by central differences (exact for functions linear in v).
func gradient(v, gy []float64, fn func([]float64) []float64) []float64 {
	const h = 1e-4
	g := make([]float64, len(v))
	for i := range v {
		p := append([]float64(nil), v...)
		p[i] += h
		hi := dot(gy, fn(p))
		p[i] -= 2 * h
		lo := dot(gy, fn(p))
		g[i] = (hi - lo) / (2 * h)
	}
	return g
}

func (f *nnFixture) checkConv(name string, g convGeom, withBias bool) {
	f.t.Helper()
	ho, wo := g.out()
	xv := values(g.n*g.c*g.h*g.w, 1)
	wv := values(g.co*g.c/g.groups*g.kh*g.kw, 2)
	var bv []float64
	gyv := values(g.n*g.co*ho*wo, 3)
	xdims := []int64{int64(g.n), int64(g.c), int64(g.h), int64(g.w)}
	wdims := []int64{int64(g.co), int64(g.c / g.groups), int64(g.kh), int64(g.kw)}
	ydims := []int64{int64(g.n), int64(g.co), int64(ho), int64(wo)}
	tx, _ := f.tensor(xdims, xv)
	tw, _ := f.tensor(wdims, wv)
	var tb *Tensor
	if withBias {
		bv = values(g.co, 4)
		tb, _ = f.tensor([]int64{int64(g.co)}, bv)
	}
	ty, py := f.tensor(ydims, nil)
	cp := &ConvParams{
		Stride:        f.ints(int64(g.stride[0]), int64(g.stride[1])),
		Padding:       f.ints(int64(g.pad[0]), int64(g.pad[1])),
		Dilation:      f.ints(int64(g.dil[0]), int64(g.dil[1])),
		OutputPadding: f.ints(0, 0),
		Groups:        int64(g.groups),
		CubeMathType:  1,
	}
	if err := f.d.Convolution(f.s, f.ws, tx, tw, tb, cp, ty); err != nil {
		f.t.Fatal(err)
	}
	f.expect(name+" output", py, conv2d(g, xv, wv, bv))

	tgy, _ := f.tensor(ydims, gyv)
	tgx, pgx := f.tensor(xdims, nil)
	tgw, pgw := f.tensor(wdims, nil)
	var tgb *Tensor
	var pgb Ptr
	var biasSizes *IntArray
	if withBias {
		tgb, pgb = f.tensor([]int64{int64(g.co)}, nil)
		biasSizes = f.ints(int64(g.co))
	}
	mask := f.bools(true, true, withBias)
	if err := f.d.ConvolutionBackward(f.s, f.ws, tgy, tx, tw, biasSizes, cp, mask, tgx, tgw, tgb); err != nil {
		f.t.Fatal(err)
	}
	f.expect(name+" gradInput", pgx, gradient(xv, gyv, func(x []float64) []float64 { return conv2d(g, x, wv, bv) }))
	f.expect(name+" gradWeight", pgw, gradient(wv, gyv, func(w []float64) []float64 { return conv2d(g, xv, w, bv) }))
	if withBias {
		f.expect(name+" gradBias", pgb, gradient(bv, gyv, func(b []float64) []float64 { return conv2d(g, xv, wv, b) }))
	}
}

// batchNorm is the float64 reference over x [n, c, inner]: it returns the output and the statistics
// it normalized with (the batch's when training, mean and 1/sqrt(var+eps)).
func batchNorm(x, w, b, rm, rv []float64, n, c, inner int, training bool, eps float64) (y, mean, invstd, bvar []float64) {
	y = make([]float64, len(x))
	mean, invstd, bvar = make([]float64, c), make([]float64, c), make([]float64, c)
	m := float64(n * inner)
	for ch := 0; ch < c; ch++ {
		mu, v := rm[ch], rv[ch]
		if training {
			mu, v = 0, 0
			for i := 0; i < n; i++ {
				for r := 0; r < inner; r++ {
					mu += x[(i*c+ch)*inner+r] / m
				}
			}
			for i := 0; i < n; i++ {
				for r := 0; r < inner; r++ {
					d := x[(i*c+ch)*inner+r] - mu
					v += d * d / m
				}
			}
		}
		mean[ch], bvar[ch], invstd[ch] = mu, v, 1/math.Sqrt(v+eps)
		for i := 0; i < n; i++ {
			for r := 0; r < inner; r++ {
				k := (i*c+ch)*inner + r
				y[k] = (x[k]-mu)*invstd[ch]*w[ch] + b[ch]
			}
		}
	}
	return y, mean, invstd, bvar
}

func (f *nnFixture) checkBatchNorm() {
	f.t.Helper()
	const n, c, inner, momentum, eps = 2, 3, 4, 0.1, 1e-5
	dims := []int64{n, c, 2, 2}
	xv, gyv := values(n*c*inner, 5), values(n*c*inner, 6)
	for i := range xv {
		xv[i] = float64(float32(xv[i]*2 + float64(i%3)))
	}
	wv, bv := []float64{1.5, -0.5, 2}, []float64{0.25, 0, -1}
	rm, rv := []float64{0.5, -0.5, 1}, []float64{2, 0.5, 1.5}
	tx, _ := f.tensor(dims, xv)
	tw, _ := f.tensor([]int64{c}, wv)
	tb, _ := f.tensor([]int64{c}, bv)
	trm, prm := f.tensor([]int64{c}, rm)
	trv, prv := f.tensor([]int64{c}, rv)
	ty, py := f.tensor(dims, nil)
	tsm, psm := f.tensor([]int64{c}, nil)
	tsi, psi := f.tensor([]int64{c}, nil)
	if err := f.d.BatchNorm(f.s, f.ws, tx, tw, tb, trm, trv, true, momentum, eps, ty, tsm, tsi); err != nil {
		f.t.Fatal(err)
	}
	y, mean, _, bvar := batchNorm(xv, wv, bv, rm, rv, n, c, inner, true, eps)
	f.expect("BatchNorm output", py, y)
	f.expect("BatchNorm saveMean", psm, mean)
	// On 910, 910B and 910_93 saveInvstd receives the biased batch variance, which the backward
	// reads with its own eps.
	f.expect("BatchNorm saveInvstd (the variance)", psi, bvar)
	newRM, newRV := make([]float64, c), make([]float64, c)
	for ch := 0; ch < c; ch++ {
		newRM[ch] = (1-momentum)*rm[ch] + momentum*mean[ch]
		newRV[ch] = (1-momentum)*rv[ch] + momentum*bvar[ch]*n*inner/(n*inner-1)
	}
	f.expect("BatchNorm runningMean", prm, newRM)
	f.expect("BatchNorm runningVar", prv, newRV)

	// Backward of the training forward, all three gradients.
	tgy, _ := f.tensor(dims, gyv)
	tgx, pgx := f.tensor(dims, nil)
	tgw, pgw := f.tensor([]int64{c}, nil)
	tgb, pgb := f.tensor([]int64{c}, nil)
	if err := f.d.BatchNormBackward(f.s, f.ws, tgy, tx, tw, trm, trv, tsm, tsi, true, eps, f.bools(true, true, true),
		tgx, tgw, tgb); err != nil {
		f.t.Fatal(err)
	}
	fwd := func(x, w, b []float64) []float64 {
		y, _, _, _ := batchNorm(x, w, b, rm, rv, n, c, inner, true, eps)
		return y
	}
	f.expect("BatchNormBackward gradInput", pgx, gradient(xv, gyv, func(x []float64) []float64 { return fwd(x, wv, bv) }))
	f.expect("BatchNormBackward gradWeight", pgw, gradient(wv, gyv, func(w []float64) []float64 { return fwd(xv, w, bv) }))
	f.expect("BatchNormBackward gradBias", pgb, gradient(bv, gyv, func(b []float64) []float64 { return fwd(xv, wv, b) }))

	// Evaluation with the (updated) running statistics, and its backward without gradWeight.
	ty2, py2 := f.tensor(dims, nil)
	if err := f.d.BatchNorm(f.s, f.ws, tx, tw, tb, trm, trv, false, momentum, eps, ty2, nil, nil); err != nil {
		f.t.Fatal(err)
	}
	y2, _, _, _ := batchNorm(xv, wv, bv, newRM, newRV, n, c, inner, false, eps)
	f.expect("BatchNorm eval output", py2, y2)
	f.expect("BatchNorm eval leaves runningMean", prm, newRM)
	tgx2, pgx2 := f.tensor(dims, nil)
	tgb2, pgb2 := f.tensor([]int64{c}, nil)
	if err := f.d.BatchNormBackward(f.s, f.ws, tgy, tx, tw, trm, trv, nil, nil, false, eps, f.bools(true, false, true),
		tgx2, nil, tgb2); err != nil {
		f.t.Fatal(err)
	}
	evalFwd := func(x, b []float64) []float64 {
		y, _, _, _ := batchNorm(x, wv, b, newRM, newRV, n, c, inner, false, eps)
		return y
	}
	f.expect("BatchNormBackward eval gradInput", pgx2, gradient(xv, gyv, func(x []float64) []float64 { return evalFwd(x, bv) }))
	f.expect("BatchNormBackward eval gradBias", pgb2, gradient(bv, gyv, func(b []float64) []float64 { return evalFwd(xv, b) }))
}

func (f *nnFixture) checkThresholdBackward() {
	f.t.Helper()
	tgy, _ := f.tensor([]int64{2, 3}, []float64{1, 2, 3, 4, 5, 6})
	tx, _ := f.tensor([]int64{2, 3}, []float64{-1, 0, 0.5, math.NaN(), 2, 0.25})
	to, po := f.tensor([]int64{2, 3}, nil)
	th, err := f.l.NewScalarFloat32(0.25)
	if err != nil {
		f.t.Fatal(err)
	}
	f.keep(th)
	if err := f.d.ThresholdBackward(f.s, f.ws, tgy, tx, th, to); err != nil {
		f.t.Fatal(err)
	}
	f.expect("ThresholdBackward", po, []float64{0, 0, 3, 4, 5, 0})
}

// testNNOps runs the training kernels (convolution, batch norm, threshold backward and their
// backwards) through the binding and checks their values against float64 references; the
// gradients are checked against central differences of the references.
func testNNOps(t *testing.T, l *Lib, d *Device, s *Stream) {
	f := &nnFixture{t: t, l: l, d: d, s: s, ws: NewStreamWorkspace(d)}
	for _, c := range []struct {
		name     string
		g        convGeom
		withBias bool
	}{
		{"grouped strided padded", convGeom{n: 2, c: 4, h: 5, w: 5, co: 4, kh: 3, kw: 3, stride: [2]int{2, 2},
			pad: [2]int{1, 1}, dil: [2]int{1, 1}, groups: 2}, true},
		{"depthwise dilated", convGeom{n: 2, c: 4, h: 5, w: 5, co: 4, kh: 3, kw: 3, stride: [2]int{1, 2},
			pad: [2]int{2, 1}, dil: [2]int{2, 1}, groups: 4}, false},
		{"dense 1x1", convGeom{n: 1, c: 3, h: 2, w: 3, co: 5, kh: 1, kw: 1, stride: [2]int{1, 1},
			pad: [2]int{0, 0}, dil: [2]int{1, 1}, groups: 1}, true},
	} {
		f.checkConv(fmt.Sprintf("Convolution %s", c.name), c.g, c.withBias)
	}
	f.checkBatchNorm()
	f.checkThresholdBackward()
	f.release()
}
