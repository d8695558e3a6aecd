package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/resnext/resnext/ops"
)

// gemmTestRandom returns n values uniform in [-1, 1).
func gemmTestRandom(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = 2*rng.Float32() - 1
	}
	return s
}

// gemmTestClose fails t unless got matches want within 1e-4 of the largest magnitude in want.
func gemmTestClose(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	scale := 1e-6
	for _, v := range want {
		scale = max(scale, math.Abs(v))
	}
	tol := 1e-4 * scale
	for i, v := range want {
		if d := math.Abs(float64(got[i]) - v); !(d <= tol) {
			t.Fatalf("%s: element %d = %v, want %v (|diff| %.3g > %.3g)", what, i, got[i], v, d, tol)
		}
	}
}

// gemmTestMatrix is a row-major matrix of rows x cols with row stride ld, stored in exactly
// (rows-1)*ld + cols values so that any read past the last element panics.
func gemmTestMatrix(rng *rand.Rand, rows, cols, ld int) []float32 {
	if rows == 0 || cols == 0 {
		return nil
	}
	return gemmTestRandom(rng, (rows-1)*ld+cols)
}

// gemmTestRef computes alpha*op(A)*op(B) + beta*C in float64 for the elements of C (the padding
// between rows of C keeps its value). It runs alone, before the GEMM under test starts its
// goroutines, so the race detector has nothing to find in it: go:norace spares the race build
// instrumenting its reads (over 10^8 for the largest case).
//
//go:norace
func gemmTestRef(o gemmOp) []float64 {
	at := func(i, p int) float64 {
		if o.transA {
			return float64(o.a[p*o.lda+i])
		}
		return float64(o.a[i*o.lda+p])
	}
	bt := func(p, j int) float64 {
		if o.transB {
			return float64(o.b[j*o.ldb+p])
		}
		return float64(o.b[p*o.ldb+j])
	}
	want := make([]float64, len(o.c))
	for i, v := range o.c {
		want[i] = float64(v)
	}
	for i := range o.m {
		for j := range o.n {
			var s float64
			for p := range o.k {
				s += at(i, p) * bt(p, j)
			}
			c := 0.0
			if o.beta != 0 {
				c = float64(o.beta) * float64(o.c[i*o.ldc+j])
			}
			want[i*o.ldc+j] = float64(o.alpha)*s + c
		}
	}
	return want
}

// gemmTestOp builds a random problem with every leading dimension pad elements wider than needed.
func gemmTestOp(rng *rand.Rand, m, n, k int, transA, transB bool, pad int, alpha, beta float32) gemmOp {
	o := gemmOp{m: m, n: n, k: k, transA: transA, transB: transB, alpha: alpha, beta: beta}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	o.lda, o.ldb, o.ldc = ac+pad, bc+pad, n+pad
	o.a = gemmTestMatrix(rng, ar, ac, o.lda)
	o.b = gemmTestMatrix(rng, br, bc, o.ldb)
	o.c = gemmTestMatrix(rng, m, n, o.ldc)
	if beta == 0 {
		// C must be overwritten, not scaled: NaN would survive a multiplication by zero.
		for i := range m {
			for j := range n {
				o.c[i*o.ldc+j] = float32(math.NaN())
			}
		}
	}
	return o
}

// gemmTestBackends run on one thread and on two: the serial path and the split of C across
// goroutines.
var gemmTestBackends = []*Backend{New(Options{Threads: 1}), New(Options{Threads: 2})}

// gemmTestCheck runs o on each of gemmTestBackends, on its own copy of C, against the reference
// computed once.
func gemmTestCheck(t *testing.T, what string, o gemmOp) {
	t.Helper()
	want := gemmTestRef(o)
	for _, b := range gemmTestBackends {
		run := o
		run.c = slices.Clone(o.c)
		b.gemm(run)
		gemmTestClose(t, fmt.Sprintf("threads=%d %s", b.threads, what), run.c, want)
	}
}

func TestGEMMShapes(t *testing.T) {
	sizes := []int{1, 3, 17, 33, 129}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, transA := range []bool{false, true} {
		for _, transB := range []bool{false, true} {
			for _, m := range sizes {
				for _, n := range sizes {
					for _, k := range sizes {
						o := gemmTestOp(rng, m, n, k, transA, transB, 0, 1, 0)
						gemmTestCheck(t, fmt.Sprintf("transA=%v transB=%v m=%d n=%d k=%d", transA, transB, m, n, k), o)
					}
				}
			}
		}
	}
}

// TestGEMMScaling covers accumulation (beta 1), general alpha and beta, strided operands, empty
// inner dimensions, and sizes that span several cache blocks in every direction.
func TestGEMMScaling(t *testing.T) {
	cases := []struct {
		m, n, k     int
		pad         int
		alpha, beta float32
	}{
		{17, 33, 3, 0, 1, 1},
		{33, 17, 129, 5, 1, 1},
		{5, 7, 9, 2, 0.5, -2},
		{3, 3, 0, 1, 1, 0},
		{4, 5, 0, 0, 2, 3},
		{9, 6, 7, 0, 0, 0.5},
		{gemmMC + 3, gemmNC + 5, gemmKC + 7, 1, 1, 1},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range cases {
		for _, transA := range []bool{false, true} {
			for _, transB := range []bool{false, true} {
				o := gemmTestOp(rng, c.m, c.n, c.k, transA, transB, c.pad, c.alpha, c.beta)
				gemmTestCheck(t, fmt.Sprintf("transA=%v transB=%v %+v", transA, transB, c), o)
			}
		}
	}
}

// TestGEMMKernel checks the micro-kernel on its own: whole tiles, accumulating into C with a row
// stride wider than the tile.
func TestGEMMKernel(t *testing.T) {
	k := gemmKernel
	rng := rand.New(rand.NewPCG(5, 6))
	for _, kc := range []int{1, 2, 7, gemmKC} {
		a, bp := gemmTestRandom(rng, kc*k.mr), gemmTestRandom(rng, kc*k.nr)
		ldc := k.nr + 3
		c := gemmTestRandom(rng, (k.mr-1)*ldc+k.nr)
		want := make([]float64, len(c))
		for i, v := range c {
			want[i] = float64(v)
		}
		for i := range k.mr {
			for j := range k.nr {
				for p := range kc {
					want[i*ldc+j] += float64(a[p*k.mr+i]) * float64(bp[p*k.nr+j])
				}
			}
		}
		k.fn(kc, a, bp, c, ldc)
		gemmTestClose(t, fmt.Sprintf("kc=%d", kc), c, want)
	}
}

// gemmTestTensor returns a float32 tensor of b holding data.
func gemmTestTensor(b *Backend, shape ops.Shape, data []float32) ops.Tensor {
	t := b.Alloc(ops.Float32, shape)
	copy(get("test", t).f32(), data)
	return t
}

func BenchmarkSGEMM(bm *testing.B) {
	for _, size := range []int{256, 512, 1024} {
		bm.Run(fmt.Sprint(size), func(bm *testing.B) {
			b := New(Options{})
			rng := rand.New(rand.NewPCG(9, 10))
			o := gemmTestOp(rng, size, size, size, false, false, 0, 1, 0)
			for bm.Loop() {
				b.gemm(o)
			}
			flops := 2 * float64(size) * float64(size) * float64(size)
			bm.ReportMetric(flops*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
