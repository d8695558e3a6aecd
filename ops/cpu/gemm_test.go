package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
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

// gemmTestBackends are backends with kernel k on one thread, on two and on three, with the work
// needed for another thread lowered so that small shapes take the parallel path too, split by
// rows or by columns as they come.
func gemmTestBackends(k microKernel) []*Backend {
	var bs []*Backend
	for _, threads := range []int{1, 2, 3} {
		b := New(Options{Threads: threads})
		b.kernel = k
		b.gemmMinWork = 1
		bs = append(bs, b)
	}
	return bs
}

// gemmTestCheck runs o on each of backends, on its own copy of C, against the reference computed
// once, with A packed by the GEMM and prepacked (prepackA), and then the serial path (run, as the
// convolutions call it) with the first backend's packing memory.
func gemmTestCheck(t *testing.T, backends []*Backend, what string, o gemmOp) {
	t.Helper()
	want := gemmTestRef(o)
	for _, b := range backends {
		for _, prepack := range []bool{false, true} {
			run := o
			run.c = slices.Clone(o.c)
			if prepack {
				run.prepackA(b, b.kernel, make([]float32, o.prepackedSize(b.kernel)+7))
			}
			b.gemm(run)
			gemmTestClose(t, fmt.Sprintf("%v threads=%d prepacked=%v %s", b.kernel, b.threads, prepack, what), run.c, want)
		}
	}
	b := backends[0]
	run := o
	run.c = slices.Clone(o.c)
	w := b.newGemmWork()
	run.run(&w)
	b.releaseGemmWork(w)
	gemmTestClose(t, fmt.Sprintf("%v run %s", b.kernel, what), run.c, want)
}

// gemmTestKernels are the kernels this machine runs, each also with blocking shrunk to a few
// micro-panels so that small shapes cross every block boundary (kc, mc and nc) cheaply.
func gemmTestKernels() []microKernel {
	var ks []microKernel
	for _, k := range gemmKernels {
		ks = append(ks, k, gemmTestSmallBlocks(k))
	}
	return ks
}

func gemmTestSmallBlocks(k microKernel) microKernel {
	k.name += "/small-blocks"
	k.kc, k.mc, k.nc = 5, 2*k.mr, 3*k.nr
	return k
}

// gemmTestSizes are the sizes that matter to a tile of t: 1, t-1, t, t+1, and odd sizes across
// several tiles.
func gemmTestSizes(t int) []int {
	s := []int{1, max(t-1, 1), t, t + 1, 2*t + 3, 37}
	slices.Sort(s)
	return slices.Compact(s)
}

// TestGEMMShapes checks every kernel and thread count over the edge sizes of its tile in m, n
// and k, with every combination of transposes, beta 0 over NaN in C.
func TestGEMMShapes(t *testing.T) {
	for _, k := range gemmTestKernels() {
		t.Run(k.name, func(t *testing.T) {
			backends := gemmTestBackends(k)
			rng := rand.New(rand.NewPCG(1, 2))
			ms, ns := gemmTestSizes(k.mr), gemmTestSizes(k.nr)
			ks := gemmTestSizes(8) // the assembly kernels unroll the k loop 8 times
			if testing.Short() {
				ms, ns, ks = []int{1, k.mr + 1, 37}, []int{1, k.nr + 1, 37}, []int{1, 9, 37}
			}
			for _, transA := range []bool{false, true} {
				for _, transB := range []bool{false, true} {
					for _, m := range ms {
						for _, n := range ns {
							for _, kk := range ks {
								o := gemmTestOp(rng, m, n, kk, transA, transB, 0, 1, 0)
								gemmTestCheck(t, backends, fmt.Sprintf("transA=%v transB=%v m=%d n=%d k=%d", transA, transB, m, n, kk), o)
							}
						}
					}
				}
			}
		})
	}
}

// TestGEMMScaling covers accumulation (beta 1), general alpha and beta, strided operands, empty
// inner dimensions, and sizes that span several cache blocks in every direction.
func TestGEMMScaling(t *testing.T) {
	type gemmCase struct {
		m, n, k     int
		pad         int
		alpha, beta float32
	}
	for _, k := range gemmTestKernels() {
		t.Run(k.name, func(t *testing.T) {
			cases := []gemmCase{
				{17, 33, 3, 0, 1, 1},
				{33, 17, 129, 5, 1, 1},
				{5, 7, 9, 2, 0.5, -2},
				{3, 3, 0, 1, 1, 0},
				{4, 5, 0, 0, 2, 3},
				{9, 6, 7, 0, 0, 0.5},
				{2*k.mr + 1, 2*k.nr + 1, 2*k.kc + 3, 3, -1.5, 0},
				{k.mc + 3, k.nr + 5, k.kc + 7, 1, 1, 1},
				{3*k.mr - 1, k.nc + 5, k.kc + 7, 1, 0.75, 0.25},
				// Enough micro-panels of A for three threads to claim them as they go.
				{48*k.mr + 5, 2*k.nr + 3, 2*k.kc + 1, 2, 1, 0},
				{48*k.mr + 5, k.nr + 1, k.kc + 1, 0, -1, 0.5},
			}
			if testing.Short() {
				cases = cases[:7]
			}
			backends := gemmTestBackends(k)
			rng := rand.New(rand.NewPCG(3, 4))
			for _, c := range cases {
				for _, transA := range []bool{false, true} {
					for _, transB := range []bool{false, true} {
						o := gemmTestOp(rng, c.m, c.n, c.k, transA, transB, c.pad, c.alpha, c.beta)
						gemmTestCheck(t, backends, fmt.Sprintf("transA=%v transB=%v %+v", transA, transB, c), o)
					}
				}
			}
		})
	}
}

// TestGEMMKernels checks each micro-kernel on its own against a float64 reference: whole tiles
// with a row stride wider than the tile, loop lengths around the unrolling, beta 0 (over NaN), 1
// and others, and that nothing outside the tile is written.
func TestGEMMKernels(t *testing.T) {
	for _, k := range gemmKernels {
		t.Run(k.name, func(t *testing.T) { gemmTestKernel(t, k) })
	}
}

func gemmTestKernel(t *testing.T, k microKernel) {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, kc := range []int{0, 1, 2, 7, 8, 9, 15, 16, 17, 63, k.kc - 1, k.kc} {
		for _, beta := range []float32{0, 1, 0.5, -2} {
			a, bp := gemmTestRandom(rng, kc*k.mr), gemmTestRandom(rng, kc*k.nr)
			ldc := k.nr + 3
			// Guard values around and between the rows of the tile must come out unchanged.
			const guard = 7
			c := gemmTestRandom(rng, guard+(k.mr-1)*ldc+k.nr+guard)
			tile := c[guard : len(c)-guard]
			want := make([]float64, len(c))
			for i, v := range c {
				want[i] = float64(v)
			}
			for i := range k.mr {
				for j := range k.nr {
					s := 0.0
					for p := range kc {
						s += float64(a[p*k.mr+i]) * float64(bp[p*k.nr+j])
					}
					at := guard + i*ldc + j
					if beta == 0 {
						c[at] = float32(math.NaN())
						want[at] = s
					} else {
						want[at] = s + float64(beta)*float64(c[at])
					}
				}
			}
			k.fn(kc, a, bp, tile, ldc, beta)
			gemmTestClose(t, fmt.Sprintf("%v kc=%d beta=%v", k, kc, beta), c, want)
		}
	}
}

// TestKernelChoice checks the names Options.Kernel and RESNEXT_CPU_KERNEL take, the errors for a
// kernel the machine cannot run, and that the choice reaches Device.
func TestKernelChoice(t *testing.T) {
	names := Kernels()
	if len(names) == 0 || names[len(names)-1] != "go" {
		t.Fatalf("Kernels() = %v, want the portable kernel last", names)
	}
	for _, name := range names {
		b := New(Options{Kernel: name})
		if b.Kernel() != name || !strings.Contains(b.Device(), "sgemm kernel "+name) {
			t.Errorf("Kernel %q: Kernel() = %q, Device() = %q", name, b.Kernel(), b.Device())
		}
		t.Setenv(KernelEnv, name)
		if b := New(Options{}); b.Kernel() != name {
			t.Errorf("%s=%s: kernel %q", KernelEnv, name, b.Kernel())
		}
	}
	t.Setenv(KernelEnv, "")
	if b := New(Options{}); b.Kernel() != names[0] {
		t.Errorf("default kernel %q, want the fastest, %q", b.Kernel(), names[0])
	}
	for _, name := range []string{"avx512", "avx2", "sse", "Go"} {
		if slices.Contains(names, name) {
			continue
		}
		_, err := kernelNamed(name)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) {
			t.Errorf("kernel %q: error %v", name, err)
			continue
		}
		if _, known := kernelNeeds[name]; known && !strings.Contains(err.Error(), kernelNeeds[name]) {
			t.Errorf("kernel %q: error %q does not say what it needs", name, err)
		}
		t.Setenv(KernelEnv, name)
		if _, err := ops.Open("cpu"); err == nil || !strings.Contains(err.Error(), KernelEnv) && !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: ops.Open error %v", KernelEnv, name, err)
		}
		msg := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			New(Options{})
			return "<no panic>"
		}()
		if !strings.Contains(msg, fmt.Sprintf("%q", name)) {
			t.Errorf("%s=%s: New panics with %q", KernelEnv, name, msg)
		}
	}
}

// gemmTestTensor returns a float32 tensor of b holding data.
func gemmTestTensor(b *Backend, shape ops.Shape, data []float32) ops.Tensor {
	t := b.Alloc(ops.Float32, shape)
	copy(get("test", t).f32(), data)
	return t
}

// TestDevice logs the backend's description with the SGEMM kernel it chose (the benchmark script
// prints it).
func TestDevice(t *testing.T) {
	b := New(Options{})
	if !strings.Contains(b.Device(), "sgemm kernel "+b.Kernel()) {
		t.Errorf("Device() = %q does not name the kernel %q", b.Device(), b.Kernel())
	}
	t.Logf("device: %s", b.Device())
}

// gemmBenchShapes are the GEMMs the benchmarks time: squares, and the 1x1 convolutions of
// ResNeXt-50 (32x4d) at batch 16 as one GEMM each, M output channels, K input channels and N =
// 16*H*W output positions.
var gemmBenchShapes = []struct {
	name    string
	m, k, n int
}{
	{"256", 256, 256, 256},
	{"512", 512, 512, 512},
	{"1024", 1024, 1024, 1024},
	{"2048", 2048, 2048, 2048},
	{"M256_K64_N50176", 256, 64, 50176},   // stage 1, 56x56: conv3 and downsample (64 -> 256)
	{"M128_K256_N50176", 128, 256, 50176}, // stage 1, 56x56: conv1 (256 -> 128)
	{"M256_K512_N12544", 256, 512, 12544}, // stage 2, 28x28: conv1 (512 -> 256)
	{"M512_K1024_N3136", 512, 1024, 3136}, // stage 4's first block, 14x14: conv1 (1024 -> 512)
	{"M2048_K1024_N784", 2048, 1024, 784}, // stage 4, 7x7: downsample (1024 -> 2048)
	{"M1024_K2048_N784", 1024, 2048, 784}, // stage 4, 7x7: conv1 (2048 -> 1024)
}

// benchGEMM times C = A*B on b for every shape of gemmBenchShapes and reports GFLOP/s.
func benchGEMM(bm *testing.B, b *Backend) {
	for _, s := range gemmBenchShapes {
		bm.Run(s.name, func(bm *testing.B) {
			rng := rand.New(rand.NewPCG(9, 10))
			o := gemmTestOp(rng, s.m, s.n, s.k, false, false, 0, 1, 0)
			for bm.Loop() {
				b.gemm(o)
			}
			flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
			bm.ReportMetric(flops*float64(bm.N)/bm.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSGEMM times the default kernel on every thread (scripts/bench_kernels_vs_torch.sh sets
// its figures beside PyTorch's).
func BenchmarkSGEMM(bm *testing.B) { benchGEMM(bm, New(Options{})) }

// BenchmarkGEMMKernels times each kernel this machine runs, on every thread.
func BenchmarkGEMMKernels(bm *testing.B) {
	for _, name := range Kernels() {
		bm.Run(name, func(bm *testing.B) { benchGEMM(bm, New(Options{Kernel: name})) })
	}
}
