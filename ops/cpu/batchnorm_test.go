package cpu

import (
	"fmt"
	"iter"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/resnext/resnext/ops"
)

// TestVecLoops checks every set of vector loops this machine runs (the AVX2 assembly on amd64)
// against the portable loops, directly: each loop on channels of 0 to 70 values and a few large
// ones, as one plane and as three planes with a gap between them, starting 0 to 7 floats into a
// slice, on random data and with special values (NaN, infinities, signed zeros, subnormals, values
// near the float32 limits) at every position of the first vectors and of the tail, so that a wrong
// lane, tail, stride or bound shows. Inputs hold NaN outside the channel and outputs a sentinel,
// so a read or a write out of place shows too. Sums may differ by their order of summation, and
// elementwise results by a rounding where the compiler fuses a multiply-add (GOAMD64=v3).
func TestVecLoops(t *testing.T) {
	tested := false
	for k, v := range vecTestLoopSets() {
		if v == &goLoops {
			continue
		}
		tested = true
		t.Run(k, func(t *testing.T) {
			t.Run("bnStats", func(t *testing.T) { vecTestStats(t, v) })
			t.Run("bnNormalize", func(t *testing.T) { vecTestNormalize(t, v) })
			t.Run("bnBackSums", func(t *testing.T) { vecTestBackSums(t, v) })
			t.Run("bnBackDx", func(t *testing.T) { vecTestBackDx(t, v) })
			t.Run("add", func(t *testing.T) { vecTestAdd(t, v) })
		})
	}
	if !tested {
		t.Skip("this machine runs only the portable loops")
	}
}

// vecTestLoopSets returns each set of loops this machine runs once, under the name of the first
// kernel that uses it, in the order of Kernels().
func vecTestLoopSets() iter.Seq2[string, *vecLoops] {
	return func(yield func(string, *vecLoops) bool) {
		seen := map[*vecLoops]bool{}
		for _, k := range Kernels() {
			kern, err := kernelNamed(k)
			if err != nil {
				panic(err)
			}
			v := kern.vec
			if !seen[v] && !yield(k, v) {
				return
			}
			seen[v] = true
		}
	}
}

// TestBatchNormStats checks the batch statistics of a channel (bnLayout.stats) against exact ones
// with every set of loops this machine runs: means far from zero, a first value far from the others
// (the shift of the one-pass sums, which must then not cost accuracy), a constant channel and
// special values.
func TestBatchNormStats(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	l := bnLayout{n: 8, c: 2, hw: 56 * 56}
	normal := func(mean, std float64) []float32 {
		x := make([]float32, l.n*l.stride())
		for i := range x {
			x[i] = float32(mean + std*rng.NormFloat64())
		}
		return x
	}
	with := func(x []float32, i int, v float32) []float32 {
		x[vecTestIndex(l, i)] = v
		return x
	}
	inf := float64(vecTestInf)
	for _, c := range []struct {
		name string
		x    []float32
		// mean and sq are the statistics where sq is NaN; elsewhere they are computed exactly.
		mean, sq float64
	}{
		{name: "mean_1000_std_0.5", x: normal(1000, 0.5)},
		{name: "mean_-3e5_std_1", x: normal(-3e5, 1)},
		{name: "mean_1e4_std_1e-2", x: normal(1e4, 1e-2)},
		{name: "first_value_1e4_std_away", x: with(normal(0, 1), 0, 1e4)},
		{name: "first_value_3e38", x: with(normal(0, 1), 0, 3e38)},
		{name: "last_value_1e4_std_away", x: with(normal(0, 1), l.count()-1, 1e4)},
		{name: "constant", x: normal(7.25, 0)},
		{name: "first_value_inf", x: with(normal(0, 1), 0, vecTestInf), mean: inf, sq: math.NaN()},
		{name: "inf_inside", x: with(normal(0, 1), 77, -vecTestInf), mean: -inf, sq: math.NaN()},
		{name: "nan_inside", x: with(normal(0, 1), 1000, vecTestNaN), mean: math.NaN(), sq: math.NaN()},
	} {
		mean, sq := c.mean, c.sq
		if !math.IsNaN(sq) {
			mean, sq = bnTestExactStats(l, c.x)
		}
		for k, v := range vecTestLoopSets() {
			gotMean, gotSq := l.stats(v, c.x)
			std := math.Sqrt(sq / float64(l.count()))
			if !vecTestSame(gotMean, mean, math.Abs(mean)+std, 1e-12) || !vecTestSame(gotSq, sq, sq, 1e-12) {
				t.Errorf("%s, %s loops: mean %v, sum of squares %v; want %v and %v", c.name, k, gotMean, gotSq, mean, sq)
			}
		}
	}
}

// bnTestExactStats returns the mean of the channel that starts at x[0] and the sum of squared
// deviations from it, computed exactly and then rounded.
func bnTestExactStats(l bnLayout, x []float32) (mean, sq float64) {
	const prec = 1 << 11
	sum := new(big.Float).SetPrec(prec)
	for i := range l.count() {
		sum.Add(sum, big.NewFloat(float64(x[vecTestIndex(l, i)])))
	}
	m := new(big.Float).SetPrec(prec).Quo(sum, big.NewFloat(float64(l.count())))
	s := new(big.Float).SetPrec(prec)
	for i := range l.count() {
		d := new(big.Float).SetPrec(prec).Sub(big.NewFloat(float64(x[vecTestIndex(l, i)])), m)
		s.Add(s, d.Mul(d, d))
	}
	mean, _ = m.Float64()
	sq, _ = s.Float64()
	return mean, sq
}

var (
	vecTestNaN = float32(math.NaN())
	vecTestInf = float32(math.Inf(1))
	// vecTestSpecials are spread over every lane by the loop tests.
	vecTestSpecials = []float32{vecTestNaN, vecTestInf, -vecTestInf, 0, float32(math.Copysign(0, -1)),
		3e38, -3.4e38, 1e-45, -1e-40, 1e30, -2.5}
)

// vecTestSentinel fills the outputs before a loop runs: an element it still holds was not written.
const vecTestSentinel = float32(-1.2345678e-11)

// vecTestLayouts calls f with every channel layout and offset the loop tests cover: one plane of
// 0 to 70 values and of a few large sizes (a plane of ResNeXt's 7x7 and 14x14 layers among them),
// and three such planes a plane apart (two channels), each from 0 to 7 floats into its slice.
func vecTestLayouts(f func(l bnLayout, off int)) {
	lengths := []int{}
	for hw := range 71 {
		lengths = append(lengths, hw)
	}
	lengths = append(lengths, 196, 255, 257, 1000, 3136+3)
	for _, hw := range lengths {
		for _, l := range []bnLayout{{n: 1, c: 1, hw: hw}, {n: 3, c: 2, hw: hw}} {
			for off := range 8 {
				f(l, off)
			}
		}
	}
}

// vecTestIndex is where the i-th value of the channel sits in its slice.
func vecTestIndex(l bnLayout, i int) int { return i/l.hw*l.stride() + i%l.hw }

// vecTestPositions are the positions among count values where the tests of the sums put a special
// value: all of them in a short channel, else the first and last 80 and every 61st.
func vecTestPositions(count int) []int {
	var ps []int
	for p := range count {
		if count <= 160 || p < 80 || p >= count-80 || p%61 == 0 {
			ps = append(ps, p)
		}
	}
	return ps
}

// vecTestBuf is a slice of a channel of l, off floats into a buffer that goes on past its end.
type vecTestBuf struct {
	buf []float32
	s   []float32 // buf[off:], as long as the channel
}

// vecTestInput returns a buffer of NaN holding random values in the channel.
func vecTestInput(rng *rand.Rand, l bnLayout, off int) vecTestBuf {
	b := vecTestOutput(l, off, vecTestNaN)
	mean, std := 4*rng.NormFloat64(), math.Exp(2*rng.NormFloat64())
	for i := range l.count() {
		b.s[vecTestIndex(l, i)] = float32(mean + std*rng.NormFloat64())
	}
	return b
}

// vecTestOutput returns a buffer filled with v.
func vecTestOutput(l bnLayout, off int, v float32) vecTestBuf {
	span := 0
	if l.count() > 0 {
		span = (l.n-1)*l.stride() + l.hw
	}
	buf := make([]float32, off+span+11)
	for i := range buf {
		buf[i] = v
	}
	return vecTestBuf{buf: buf, s: buf[off : off+span]}
}

// off is where the slice starts in the buffer.
func (b vecTestBuf) off() int { return len(b.buf) - cap(b.s) }

// slot is the index into the slice of element i of the buffer, and whether the slice holds it.
func (b vecTestBuf) slot(i int) (int, bool) {
	j := i - b.off()
	return j, j >= 0 && j < len(b.s)
}

// clone is a copy of b.
func (b vecTestBuf) clone() vecTestBuf {
	buf := append([]float32(nil), b.buf...)
	return vecTestBuf{buf: buf, s: buf[b.off() : b.off()+len(b.s)]}
}

// spread puts special values into the channel of b, each value at every position as rot varies.
func (b vecTestBuf) spread(l bnLayout, rot int) {
	for i := range l.count() {
		b.s[vecTestIndex(l, i)] = vecTestSpecials[(i+rot)%len(vecTestSpecials)]
	}
}

// vecTestSame reports whether got matches want: the same bits, both NaN, or both finite and within
// tol*scale.
func vecTestSame(got, want, scale, tol float64) bool {
	switch {
	case got == want && math.Signbit(got) == math.Signbit(want), math.IsNaN(got) && math.IsNaN(want):
		return true
	case math.IsNaN(got) || math.IsNaN(want) || math.IsInf(got, 0) || math.IsInf(want, 0):
		return false
	}
	return math.Abs(got-want) <= tol*scale
}

// vecTestCheckOutput fails t unless every element of got's buffer matches want's, where scale(i)
// is the size of the terms of element i of the buffer (NaN outside the channel: there the
// sentinel must stay, bit for bit).
func vecTestCheckOutput(t *testing.T, what string, got, want vecTestBuf, scale func(i int) float64) {
	t.Helper()
	for i := range got.buf {
		if !vecTestSame(float64(got.buf[i]), float64(want.buf[i]), scale(i), 1e-6) {
			t.Fatalf("%s: element %d of the buffer (%d into the slice) is %v, want %v",
				what, i, i-got.off(), got.buf[i], want.buf[i])
		}
	}
}

// vecTestCheckSums fails t unless the sums got match want within 1e-12 of the sums of the
// magnitudes of their terms.
func vecTestCheckSums(t *testing.T, what string, got, want, scale [2]float64) {
	t.Helper()
	for i := range got {
		if !vecTestSame(got[i], want[i], scale[i], 1e-12) {
			t.Fatalf("%s: sum %d is %v, want %v", what, i, got[i], want[i])
		}
	}
}

func vecTestStats(t *testing.T, v *vecLoops) {
	rng := rand.New(rand.NewPCG(21, 22))
	vecTestLayouts(func(l bnLayout, off int) {
		x := vecTestInput(rng, l, off)
		check := func(what string, shift float64) {
			var abs [2]float64
			for i := range l.count() {
				d := float64(x.s[vecTestIndex(l, i)]) - shift
				abs[0] += math.Abs(d)
				abs[1] += d * d
			}
			g1, g2 := v.bnStats(l, x.s, shift)
			w1, w2 := bnStatsGo(l, x.s, shift)
			vecTestCheckSums(t, fmt.Sprintf("%s, layout %+v at %d, shift %v", what, l, off, shift), [2]float64{g1, g2}, [2]float64{w1, w2}, abs)
		}
		for _, shift := range []float64{0, 0.75, 1e6} {
			check("random", shift)
		}
		for _, p := range vecTestPositions(l.count()) {
			i := vecTestIndex(l, p)
			keep := x.s[i]
			x.s[i] = vecTestSpecials[(p+off)%len(vecTestSpecials)]
			check(fmt.Sprintf("%v at value %d", x.s[i], p), 0.5)
			x.s[i] = keep
		}
	})
}

func vecTestNormalize(t *testing.T, v *vecLoops) {
	rng := rand.New(rand.NewPCG(23, 24))
	vecTestLayouts(func(l bnLayout, off int) {
		x := vecTestInput(rng, l, off)
		consts := [][3]float32{{float32(rng.NormFloat64()), float32(rng.ExpFloat64()), float32(rng.NormFloat64())},
			{-0.5, vecTestInf, float32(math.Copysign(0, -1))}, {vecTestNaN, 1, 0}}
		for rot := range 3 {
			if rot > 0 {
				x.spread(l, rot)
			}
			for _, c := range consts {
				got, want := vecTestOutput(l, off, vecTestSentinel), vecTestOutput(l, off, vecTestSentinel)
				v.bnNormalize(l, x.s, got.s, c[0], c[1], c[2])
				bnNormalizeGo(l, x.s, want.s, c[0], c[1], c[2])
				vecTestCheckOutput(t, fmt.Sprintf("layout %+v at %d, rotation %d, mean, scale, shift %v", l, off, rot, c), got, want,
					func(i int) float64 {
						return math.Abs(float64(x.buf[i]-c[0]))*math.Abs(float64(c[1])) + math.Abs(float64(c[2]))
					})
			}
		}
	})
}

func vecTestBackSums(t *testing.T, v *vecLoops) {
	rng := rand.New(rand.NewPCG(25, 26))
	vecTestLayouts(func(l bnLayout, off int) {
		dy, x := vecTestInput(rng, l, off), vecTestInput(rng, l, (off+3)%8)
		check := func(what string, mean float64) {
			var abs [2]float64
			for i := range l.count() {
				j := vecTestIndex(l, i)
				abs[0] += math.Abs(float64(dy.s[j]))
				abs[1] += math.Abs(float64(dy.s[j]) * (float64(x.s[j]) - mean))
			}
			g1, g2 := v.bnBackSums(l, dy.s, x.s, mean)
			w1, w2 := bnBackSumsGo(l, dy.s, x.s, mean)
			vecTestCheckSums(t, fmt.Sprintf("%s, layout %+v at %d, mean %v", what, l, off, mean), [2]float64{g1, g2}, [2]float64{w1, w2}, abs)
		}
		for _, mean := range []float64{0, -1.25, 1e5} {
			check("random", mean)
		}
		for _, p := range vecTestPositions(l.count()) {
			i := vecTestIndex(l, p)
			for _, in := range []struct {
				name string
				s    []float32
			}{{"dy", dy.s}, {"x", x.s}} {
				keep := in.s[i]
				in.s[i] = vecTestSpecials[(p+off)%len(vecTestSpecials)]
				check(fmt.Sprintf("%v in %s at value %d", in.s[i], in.name, p), 0.5)
				in.s[i] = keep
			}
		}
	})
}

func vecTestBackDx(t *testing.T, v *vecLoops) {
	rng := rand.New(rand.NewPCG(27, 28))
	vecTestLayouts(func(l bnLayout, off int) {
		dy, x := vecTestInput(rng, l, off), vecTestInput(rng, l, (off+5)%8)
		c := [4]float32{float32(rng.NormFloat64()), float32(rng.ExpFloat64()), float32(rng.NormFloat64()), float32(rng.NormFloat64())}
		for rot := range 3 {
			if rot > 0 {
				dy.spread(l, rot)
				x.spread(l, 2*rot)
			}
			got, want := vecTestOutput(l, off, vecTestSentinel), vecTestOutput(l, off, vecTestSentinel)
			v.bnBackDx(l, dy.s, x.s, got.s, c[0], c[1], c[2], c[3])
			bnBackDxGo(l, dy.s, x.s, want.s, c[0], c[1], c[2], c[3])
			vecTestCheckOutput(t, fmt.Sprintf("layout %+v at %d, rotation %d, mean, a, mdy, k %v", l, off, rot, c), got, want,
				func(i int) float64 {
					j, ok := got.slot(i)
					if !ok {
						return math.NaN()
					}
					return math.Abs(float64(c[1])) * (math.Abs(float64(dy.s[j])) + math.Abs(float64(c[2])) +
						math.Abs(float64(x.s[j]-c[0]))*math.Abs(float64(c[3])))
				})
		}
	})
}

func vecTestAdd(t *testing.T, v *vecLoops) {
	rng := rand.New(rand.NewPCG(29, 30))
	vecTestLayouts(func(l bnLayout, off int) {
		if l.n != 1 {
			return
		}
		a, b := vecTestInput(rng, l, off), vecTestInput(rng, l, (off+1)%8)
		for rot := range 3 {
			if rot > 0 {
				a.spread(l, rot)
				b.spread(l, 3*rot)
			}
			for _, alpha := range []float32{1, -0.37, vecTestInf} {
				what := fmt.Sprintf("%d values at %d, rotation %d, alpha %v", l.hw, off, rot, alpha)
				scale := func(i int) float64 {
					j, ok := a.slot(i)
					if !ok {
						return math.NaN()
					}
					return math.Abs(float64(a.s[j])) + math.Abs(float64(alpha))*math.Abs(float64(b.s[j]))
				}
				want, got := vecTestOutput(l, off, vecTestSentinel), vecTestOutput(l, off, vecTestSentinel)
				addGo(a.s, b.s, want.s, alpha)
				v.add(a.s, b.s, got.s, alpha)
				vecTestCheckOutput(t, what, got, want, scale)
				// In place, into a and into b (whose buffers hold NaN around the slice).
				ga, wa := a.clone(), a.clone()
				v.add(ga.s, b.s, ga.s, alpha)
				addGo(wa.s, b.s, wa.s, alpha)
				vecTestCheckOutput(t, what+", y = a", ga, wa, scale)
				gb, wb := b.clone(), b.clone()
				v.add(a.s, gb.s, gb.s, alpha)
				addGo(a.s, wb.s, wb.s, alpha)
				vecTestCheckOutput(t, what+", y = b", gb, wb, func(i int) float64 { return scale(i - b.off() + a.off()) })
			}
		}
	})
}

// benchNormShapes are activation shapes of ResNeXt-50 32x4d at batch 16 on 224x224 images: the
// first stage's grouped convolution (56x56 planes), the third stage's expansion (14x14) and the
// last stage's (7x7 planes of 49 values, where the per-plane overhead shows).
var benchNormShapes = []ops.Shape{{16, 128, 56, 56}, {16, 1024, 14, 14}, {16, 2048, 7, 7}}

// benchMemory times run at every shape of benchNormShapes with every kernel this machine runs, on
// every thread: ms per call and GB/s of the least memory traffic the kernel needs (each of its
// tensors read or written once; bytes is that traffic per element of x).
func benchMemory(bm *testing.B, bytes int, run func(b *Backend, t benchNormTensors)) {
	for _, kernel := range Kernels() {
		b := New(Options{Kernel: kernel})
		for _, shape := range benchNormShapes {
			t := newBenchNormTensors(b, shape)
			bm.Run(fmt.Sprintf("%s/%dx%dx%dx%d", kernel, shape[0], shape[1], shape[2], shape[3]), func(bm *testing.B) {
				for bm.Loop() {
					run(b, t)
				}
				sec := bm.Elapsed().Seconds() / float64(bm.N)
				bm.ReportMetric(float64(bytes*shape.Numel())/sec/1e9, "GB/s")
				bm.ReportMetric(sec*1e3, "ms/op")
			})
			t.free(b)
		}
		b.Close()
	}
}

// benchNormTensors are the operands of the benchmarked kernels: activations x, y, dy and dx of one
// shape and the per-channel vectors.
type benchNormTensors struct {
	x, y, dy, dx                                       ops.Tensor
	gamma, beta, runMean, runVar, saveMean, saveInvStd ops.Tensor
}

func newBenchNormTensors(b *Backend, shape ops.Shape) benchNormTensors {
	rng := rand.New(rand.NewPCG(15, 16))
	random := func(s ops.Shape) ops.Tensor { return gemmTestTensor(b, s, gemmTestRandom(rng, s.Numel())) }
	cs := ops.Shape{shape[1]}
	t := benchNormTensors{x: random(shape), y: b.Alloc(ops.Float32, shape), dy: random(shape), dx: b.Alloc(ops.Float32, shape),
		gamma: random(cs), beta: random(cs), runMean: random(cs), runVar: random(cs), saveMean: random(cs), saveInvStd: random(cs)}
	b.Fill(t.runVar, 1)
	b.Fill(t.saveInvStd, 1.7)
	return t
}

func (t benchNormTensors) free(b *Backend) {
	for _, u := range []ops.Tensor{t.x, t.y, t.dy, t.dx, t.gamma, t.beta, t.runMean, t.runVar, t.saveMean, t.saveInvStd} {
		b.Free(u)
	}
}

// BenchmarkBatchNormTrain reads x and writes y.
func BenchmarkBatchNormTrain(bm *testing.B) {
	benchMemory(bm, 8, func(b *Backend, t benchNormTensors) {
		b.BatchNormTrain(t.x, t.gamma, t.beta, t.runMean, t.runVar, t.y, t.saveMean, t.saveInvStd, 0.1, 1e-5)
	})
}

// BenchmarkBatchNormBackward reads dy and x and writes dx.
func BenchmarkBatchNormBackward(bm *testing.B) {
	benchMemory(bm, 12, func(b *Backend, t benchNormTensors) {
		b.BatchNormBackward(t.dy, t.x, t.gamma, t.saveMean, t.saveInvStd, t.dx, t.runMean, t.runVar)
	})
}

// BenchmarkBatchNormInfer reads x and writes y.
func BenchmarkBatchNormInfer(bm *testing.B) {
	benchMemory(bm, 8, func(b *Backend, t benchNormTensors) {
		b.BatchNormInfer(t.x, t.gamma, t.beta, t.runMean, t.runVar, t.y, 1e-5)
	})
}

// BenchmarkMemoryCopy copies x into y on every thread (Go's copy, which moves whole vectors): the
// speed of memory the kernels above can hope for, for one tensor read and one written.
func BenchmarkMemoryCopy(bm *testing.B) {
	benchMemory(bm, 8, func(b *Backend, t benchNormTensors) {
		xs, ys := f32("copy", t.x), f32("copy", t.y)
		b.parallelFor(len(xs), 1, func(lo, hi int) { copy(ys[lo:hi], xs[lo:hi]) })
	})
}

// BenchmarkAdd reads x and dy and writes y, as the residual join of a bottleneck block does.
func BenchmarkAdd(bm *testing.B) {
	benchMemory(bm, 12, func(b *Backend, t benchNormTensors) { b.Add(t.x, t.dy, t.y, 1) })
}
