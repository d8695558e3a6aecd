//go:build cgo

package ascend

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/resnext/resnext/acl"
	"github.com/resnext/resnext/acl/testruntime"
	"github.com/resnext/resnext/internal/devmem"
	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/ops/opstest"
	"github.com/resnext/resnext/resnext"
	"github.com/resnext/resnext/train/optim"
)

// The test runtime (acl/testruntime) is built once per test binary, into a directory removed when
// the tests end; every test opens its own backend on it. RESNEXT_TESTRT_ABORT=1 makes any broken call
// into CANN abort the test binary.
var (
	rtDir  string
	rtErr  error
	rtOnce sync.Once
	rtLib  *acl.Lib
)

func TestMain(m *testing.M) {
	if _, err := testruntime.Compiler(); err != nil {
		rtErr = err
	} else if rtDir, rtErr = os.MkdirTemp("", "resnext-testrt-"); rtErr == nil {
		if diag, err := testruntime.BuildInto(rtDir); err != nil {
			rtErr = fmt.Errorf("building the test runtime: %v\n%s", err, diag)
		}
	}
	code := m.Run()
	// Tests chosen with -run run under the default chip only.
	chosen := flag.Lookup("test.run") != nil && flag.Lookup("test.run").Value.String() != ""
	if code == 0 && rtErr == nil && os.Getenv(envSoC) == "" && !chosen {
		code = runPerSoC()
	}
	if rtDir != "" {
		os.RemoveAll(rtDir)
	}
	os.Exit(code)
}

// envSoC picks the chip the test runtime behaves as (its default is the first-generation
// Ascend910A).
const envSoC = "RESNEXT_TESTRT_SOC"

// otherSoCs are the chips whose behaviour the tests that depend on it run again under, each in a
// test binary of its own (a process has one chip): the 910B and the 910_93.
var otherSoCs = []string{"Ascend910B1", "Ascend910_9391"}

// perSoCTests are those tests: the conformance suite, the training comparisons with the CPU backend
// and the mixed-precision runs.
const perSoCTests = "^(TestConformance|TestResNeXtStepMatchesCPU|TestMixedPrecision|TestPoolRoutesMatchCPU|" +
	"TestAMPTrainingMatchesCPU|TestAMPLossScale|TestEngineMatchesCPU|TestEngineMixedPrecision|TestChipRules|TestCapture|TestCaptureKeepsAddresses)$"

// runPerSoC runs perSoCTests under each of otherSoCs and returns the exit code.
func runPerSoC() int {
	if testing.Short() {
		return 0
	}
	args := []string{"-test.run=" + perSoCTests}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	for _, soc := range otherSoCs {
		fmt.Printf("=== the tests that depend on the chip, as %s\n", soc)
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), envSoC+"="+soc)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Printf("--- FAIL: the tests as %s: %v\n", soc, err)
			return 1
		}
	}
	return 0
}

func testLib(t *testing.T) *acl.Lib {
	t.Helper()
	t.Setenv("RESNEXT_TESTRT_ABORT", "1")
	return testLibB(t)
}

func testLibB(t testing.TB) *acl.Lib {
	t.Helper()
	if rtErr != nil {
		t.Fatal(rtErr)
	}
	rtOnce.Do(func() { rtLib, rtErr = acl.LoadDir(rtDir) })
	if rtErr != nil {
		t.Fatal(rtErr)
	}
	return rtLib
}

func open(t *testing.T, o Options) *Backend {
	t.Helper()
	o.Lib = testLib(t)
	b, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// TestConformance runs the whole backend conformance suite on the test runtime, every contract
// check armed.
func TestConformance(t *testing.T) {
	b := open(t, Options{Device: 0})
	opstest.Run(t, b)
	if s := b.MemoryStats(); s.InUse != 0 {
		// opstest frees what it allocates; what remains is the backend's own constants.
		t.Logf("after the suite: %d bytes in use (the backend's constants), %d held", s.InUse, s.Held)
	}
}

// TestPoolPlans checks which route each max pool takes: the ResNeXt stem's "same" pool runs as
// aclnn's ceil mode with nothing cropped, symmetric pools as they are, other one-sided paddings as a
// block of a larger aclnn pool, and padding wider than half the kernel on a padded copy.
func TestPoolPlans(t *testing.T) {
	type plan struct {
		padH, padW     int64
		ceil, explicit bool
		rowOff, colOff int
		poolH, poolW   int
	}
	for _, c := range []struct {
		name string
		x    ops.Shape
		p    ops.Pool2dParams
		want plan
	}{
		{"stem_same_112", ops.Shape{1, 64, 112, 112}, ops.SamePool(3, 2, 112, 112), plan{0, 0, true, false, 0, 0, 56, 56}},
		{"stem_same_16", ops.Shape{1, 8, 16, 16}, ops.SamePool(3, 2, 16, 16), plan{0, 0, true, false, 0, 0, 8, 8}},
		{"torchvision", ops.Shape{1, 64, 112, 112}, ops.Pool(3, 2, 1), plan{1, 1, false, false, 0, 0, 56, 56}},
		{"same_odd_size", ops.Shape{1, 2, 7, 7}, ops.SamePool(3, 2, 7, 7), plan{1, 1, false, false, 0, 0, 4, 4}},
		{"same_stride_1", ops.Shape{1, 2, 6, 6}, ops.SamePool(2, 1, 6, 6), plan{1, 1, false, false, 1, 1, 7, 7}},
		{"top_heavy", ops.Shape{1, 2, 8, 8}, ops.Pool2dParams{KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1}, plan{1, 1, false, false, 0, 0, 4, 4}},
		{"wide", ops.Shape{1, 2, 8, 8}, ops.Pool2dParams{KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadTop: 2, PadBottom: 1, PadLeft: 1, PadRight: 1}, plan{0, 0, false, true, 0, 0, 5, 4}},
	} {
		pl := planPool(c.x, c.p)
		got := plan{pl.padH, pl.padW, pl.ceil, pl.explicit, pl.rowOff, pl.colOff, pl.poolH, pl.poolW}
		if got != c.want {
			t.Errorf("%s: %+v for %v: plan %+v, want %+v", c.name, c.p, c.x, got, c.want)
		}
		ho, wo := c.p.OutSize(c.x[2], c.x[3])
		if pl.outH != ho || pl.outW != wo {
			t.Errorf("%s: plan output %dx%d, want %dx%d", c.name, pl.outH, pl.outW, ho, wo)
		}
	}
}

// TestPoolRoutesMatchCPU runs max pools of every route on the backend and on the CPU and compares them, forward
// and backward: the conformance suite covers most shapes, this covers each route on purpose.
func TestPoolRoutesMatchCPU(t *testing.T) {
	b := open(t, Options{Device: 0})
	cpu := testutil.CPU(t, 1)
	rng := rand.New(rand.NewPCG(7, 7))
	for _, c := range []struct {
		x ops.Shape
		p ops.Pool2dParams
	}{
		{ops.Shape{2, 3, 16, 16}, ops.SamePool(3, 2, 16, 16)},
		{ops.Shape{2, 3, 9, 9}, ops.Pool(3, 2, 1)},
		{ops.Shape{1, 2, 6, 6}, ops.SamePool(2, 1, 6, 6)},
		{ops.Shape{1, 2, 8, 8}, ops.Pool2dParams{KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1}},
		{ops.Shape{1, 2, 8, 8}, ops.Pool2dParams{KernelH: 3, KernelW: 3, StrideH: 2, StrideW: 2, PadTop: 2, PadBottom: 1, PadLeft: 1, PadRight: 1}},
	} {
		x := testutil.Randn(rng, c.x.Numel(), 1)
		ys := ops.PoolOutShape("test", c.x, c.p)
		dy := testutil.Randn(rng, ys.Numel(), 1)
		var got, want [2][]float32
		for i, be := range []ops.Backend{b, cpu} {
			X := testutil.Upload(be, c.x, x)
			ms, mt := be.MaxPool2dMask(c.x, c.p)
			M, Y := be.Alloc(mt, ms), be.Alloc(ops.Float32, ys)
			be.MaxPool2d(X, Y, M, c.p)
			DY, DX := testutil.Upload(be, ys, dy), be.Alloc(ops.Float32, c.x)
			be.MaxPool2dBackward(DY, X, M, DX, c.p)
			out := &got
			if i == 1 {
				out = &want
			}
			out[0], out[1] = testutil.Download(t, be, Y), testutil.Download(t, be, DX)
			for _, tt := range []ops.Tensor{X, M, Y, DY, DX} {
				be.Free(tt)
			}
		}
		testutil.AssertClose(t, fmt.Sprintf("%v %+v y", c.x, c.p), got[0], want[0], 0)
		testutil.AssertClose(t, fmt.Sprintf("%v %+v dx", c.x, c.p), got[1], want[1], 1e-6)
	}
}

// stepConfig is a small ResNeXt with the ImageNet stem (7x7 convolution, MindCV's "same" max pool)
// and grouped bottlenecks, for 3x64x64 images.
func stepConfig() resnext.Config {
	return resnext.Config{Name: "step", Blocks: [4]int{1, 1, 1, 1}, Groups: 4, BaseWidth: 16, Planes: 8,
		NumClasses: 10, InChannels: 3, Stem: resnext.ImageNetStem, MaxPool: nn.PoolSame}
}

// stepResult is what a few training steps leave: the logits and loss of each step, the parameters
// (moving statistics included) and the logits of an evaluation-mode forward at the end.
type stepResult struct {
	logits [][]float32
	loss   []float32
	params map[string][]float32
	eval   []float32
}

func trainSteps(t *testing.T, b ops.Backend, steps int) stepResult {
	return trainStepsOpt(t, b, steps, optim.Options{Opt: "momentum", Momentum: 0.9, WeightDecay: 1e-4, Nesterov: true}, 0.1, 0.1)
}

// stepTrainer is stepConfig's model (seed 3) with its loss and optimizer on b.
type stepTrainer struct {
	m   *resnext.Model
	ce  *nn.SoftmaxCrossEntropy
	opt *optim.SGD
}

func newStepTrainer(t *testing.T, b ops.Backend, so optim.Options, smooth float64) *stepTrainer {
	t.Helper()
	m, err := resnext.New(b, stepConfig(), 3)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := optim.New(b, m.Params(), so)
	if err != nil {
		m.Free()
		t.Fatal(err)
	}
	return &stepTrainer{m: m, ce: nn.NewSoftmaxCrossEntropy(b, smooth), opt: opt}
}

func (s *stepTrainer) Free() {
	s.opt.Free()
	s.ce.Free()
	s.m.Free()
}

func trainStepsOpt(t *testing.T, b ops.Backend, steps int, so optim.Options, smooth, lr float64) stepResult {
	t.Helper()
	tr := newStepTrainer(t, b, so, smooth)
	defer tr.Free()
	m, ce, opt := tr.m, tr.ce, tr.opt
	// Batch norm over a handful of values is ill-conditioned enough that float32 rounding
	// differences grow by orders of magnitude within a step: 8 images of 64x64 leave layer4 16
	// values per channel.
	const n = 8
	rng := rand.New(rand.NewPCG(5, 6))
	x := testutil.Upload(b, ops.Shape{n, 3, 64, 64}, testutil.Randn(rng, n*3*64*64, 1))
	defer b.Free(x)
	y := ops.FromInt32(b, ops.Shape{n}, []int32{3, 1, 4, 1, 5, 9, 2, 6})
	defer b.Free(y)
	var r stepResult
	for range steps {
		logits := m.Forward(x)
		r.logits = append(r.logits, testutil.Download(t, b, logits))
		loss := ce.Forward(logits, y)
		r.loss = append(r.loss, testutil.Download(t, b, loss)...)
		m.Backward(ce.Backward(1))
		opt.Step(lr, 1, nil)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	r.params = map[string][]float32{}
	for _, p := range m.Params() {
		r.params[p.Name] = testutil.Download(t, b, p.Value)
	}
	m.SetTraining(false)
	r.eval = testutil.Download(t, b, m.Forward(x))
	return r
}

// TestResNeXtStepMatchesCPU trains the same small ResNeXt for three steps (label smoothing,
// Nesterov momentum, weight decay) on the Ascend backend over the test runtime and on the CPU
// backend, and compares every logit, loss, parameter and moving statistic.
func TestResNeXtStepMatchesCPU(t *testing.T) {
	const steps = 3
	got := trainSteps(t, open(t, Options{Device: 0}), steps)
	want := trainSteps(t, testutil.CPU(t, 2), steps)
	for i := range steps {
		testutil.AssertClose(t, fmt.Sprintf("step %d logits", i), got.logits[i], want.logits[i], 1e-4)
	}
	testutil.AssertClose(t, "losses", got.loss, want.loss, 1e-5)
	if want.loss[steps-1] >= want.loss[0] {
		t.Errorf("the loss did not fall: %v", want.loss)
	}
	for name, w := range want.params {
		testutil.AssertClose(t, name, got.params[name], w, 1e-4)
	}
	testutil.AssertClose(t, "evaluation logits", got.eval, want.eval, 1e-4)
}

// TestMixedPrecision runs amp_level O2's pieces in float16 on the backend and checks them against
// the CPU backend in float32: convolution, batch norm with a float16 input and float32 statistics,
// ReLU, pooling, matmul, and the device-side all-finite check of float16 gradients.
func TestMixedPrecision(t *testing.T) {
	b := open(t, Options{Device: 0})
	cpu := testutil.CPU(t, 1)
	rng := rand.New(rand.NewPCG(9, 9))
	xs, ws, ys := ops.Shape{2, 8, 9, 9}, ops.Shape{8, 2, 3, 3}, ops.Shape{2, 8, 9, 9}
	x, w := testutil.Randn(rng, xs.Numel(), 1), testutil.Randn(rng, ws.Numel(), 0.3)
	gamma, beta := testutil.Uniform(rng, 8), testutil.Randn(rng, 8, 0.1)
	p := ops.Conv(1, 1, 4)
	run := func(be ops.Backend, dt ops.DType) (conv, bn, pooled []float32) {
		X, W := ops.FromFloat32(be, dt, xs, x), ops.FromFloat32(be, dt, ws, w)
		Y := be.Alloc(dt, ys)
		be.Conv2d(X, W, Y, p)
		G, B := testutil.Upload(be, ops.Shape{8}, gamma), testutil.Upload(be, ops.Shape{8}, beta)
		RM, RV := testutil.Upload(be, ops.Shape{8}, make([]float32, 8)), testutil.Upload(be, ops.Shape{8}, ones(8))
		SM, SI, Z := be.Alloc(ops.Float32, ops.Shape{8}), be.Alloc(ops.Float32, ops.Shape{8}), be.Alloc(dt, ys)
		be.BatchNormTrain(Y, G, B, RM, RV, Z, SM, SI, 0.1, 1e-5)
		be.ReLU(Z, Z)
		P := be.Alloc(dt, ops.Shape{2, 8})
		be.GlobalAvgPool(Z, P)
		read := func(t32 ops.Tensor) []float32 {
			if t32.DType() == ops.Float32 {
				return testutil.Download(t, be, t32)
			}
			f := be.Alloc(ops.Float32, t32.Shape())
			defer be.Free(f)
			be.Cast(t32, f)
			return testutil.Download(t, be, f)
		}
		conv, bn, pooled = read(Y), read(Z), read(P)
		for _, tt := range []ops.Tensor{X, W, Y, G, B, RM, RV, SM, SI, Z, P} {
			be.Free(tt)
		}
		return
	}
	gc, gb, gp := run(b, ops.Float16)
	wc, wb, wp := run(cpu, ops.Float32)
	testutil.AssertClose(t, "float16 convolution", gc, wc, 5e-3)
	testutil.AssertClose(t, "float16 batch norm and ReLU", gb, wb, 5e-3)
	testutil.AssertClose(t, "float16 average pool", gp, wp, 5e-3)

	// The all-finite check on float16 gradients: 65504 is finite, 70000 overflows to +inf.
	ok := b.Alloc(ops.Bool, ops.Shape{})
	defer b.Free(ok)
	for _, c := range []struct {
		v    float32
		want byte
	}{{65504, 1}, {70000, 0}, {float32(math.NaN()), 0}} {
		g1 := ops.FromFloat32(b, ops.Float16, ops.Shape{3, 5}, make([]float32, 15))
		vals := make([]float32, 7)
		vals[4] = c.v
		g2 := ops.FromFloat32(b, ops.Float16, ops.Shape{7}, vals)
		b.AllFinite([]ops.Tensor{g1, g2}, ok)
		var got [1]byte
		if err := b.Read(ok, got[:]); err != nil {
			t.Fatal(err)
		}
		if got[0] != c.want {
			t.Errorf("AllFinite with %v in a float16 gradient: %d, want %d", c.v, got[0], c.want)
		}
		b.Free(g1)
		b.Free(g2)
	}
}

func ones(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

// TestOutOfMemory sets a limit and asks for more: the panic carries the allocator's error, which
// says how much was asked and how much is held, and the backend stays usable.
func TestOutOfMemory(t *testing.T) {
	b := open(t, Options{Device: 0, MemoryLimit: 1 << 20})
	keep := b.Alloc(ops.Float32, ops.Shape{1 << 17}) // 512 KiB
	defer b.Free(keep)
	var err error
	func() {
		defer func() {
			r := recover()
			e, ok := r.(error)
			if !ok {
				t.Fatalf("Alloc past the limit: recovered %v, want an error", r)
			}
			err = e
		}()
		b.Alloc(ops.Float32, ops.Shape{1 << 18}) // 1 MiB
	}()
	if !errors.Is(err, devmem.ErrOutOfMemory) {
		t.Fatalf("error %v does not match devmem.ErrOutOfMemory", err)
	}
	for _, part := range []string{"Alloc float32 [262144]", "asked", "held", "limit"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %q", err, part)
		}
	}
	small := b.Alloc(ops.Float32, ops.Shape{16})
	b.Fill(small, 2)
	if v := testutil.Download(t, b, small); v[15] != 2 {
		t.Errorf("after the failed Alloc: %v", v)
	}
	b.Free(small)
}

// TestOpenErrors: a card that does not exist and a DEVICE_ID that is not a number are refused with
// the reason.
func TestOpenErrors(t *testing.T) {
	l := testLib(t)
	if _, err := Open(Options{Device: 5, Lib: l}); err == nil || !strings.Contains(err.Error(), "device 5 does not exist") {
		t.Errorf("Open of device 5: %v", err)
	}
	t.Setenv(EnvDeviceID, "one")
	if _, err := Open(Options{Device: -1, Lib: l}); err == nil || !strings.Contains(err.Error(), `DEVICE_ID="one"`) {
		t.Errorf("Open with DEVICE_ID=one: %v", err)
	}
	if _, err := Open(Options{Device: 0, Lib: l, CubeMathType: 7}); err == nil || !strings.Contains(err.Error(), "cube math type 7") {
		t.Errorf("Open with cube math type 7: %v", err)
	}
}

// TestRuntimeFailureIsSticky: a kernel the device rejects does not panic; Sync and Read return the
// failure, naming the kernel, and the kernels after it are skipped.
func TestRuntimeFailureIsSticky(t *testing.T) {
	b := open(t, Options{Device: 0})
	x := testutil.Upload(b, ops.Shape{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	defer b.Free(x)
	b.fail("Conv2d", errors.New("injected device failure"))
	b.ReLU(x, x)
	err := b.Sync()
	if err == nil || !strings.Contains(err.Error(), "Conv2d") || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("Sync: %v", err)
	}
	if err := b.Read(x, make([]byte, 24)); err == nil {
		t.Error("Read after a failure returned nil")
	}
}

// BenchmarkHostTimePerKernel is the host's share of one small kernel (aclnnRelu on 16 floats): the
// descriptor, both aclnn phases and the bookkeeping, with the stream drained every 256 kernels.
// Against the test runtime it measures the binding's own overhead (and the stand-in's queueing).
func BenchmarkHostTimePerKernel(bb *testing.B) {
	b, err := Open(Options{Device: 0, Lib: testLibB(bb)})
	if err != nil {
		bb.Fatal(err)
	}
	defer b.Close()
	x := b.Alloc(ops.Float32, ops.Shape{16})
	b.Fill(x, 1)
	defer b.Free(x)
	bb.ResetTimer()
	for i := range bb.N {
		b.ReLU(x, x)
		if i%256 == 255 {
			if err := b.Sync(); err != nil {
				bb.Fatal(err)
			}
		}
	}
	if err := b.Sync(); err != nil {
		bb.Fatal(err)
	}
}
