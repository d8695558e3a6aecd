package opstest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/resnext/resnext/ckpt/safetensors"
	"github.com/resnext/resnext/ops"
)

// PyTorch fixtures.
//
// testdata/*.safetensors hold inputs and PyTorch's outputs for every kernel, written by
// scripts/gen_fixtures.py (inputs in float32, references computed by torch in float64 and stored
// as float32). Each file's metadata has one JSON object per case under "case/<name>": the kernel
// (as "op") and its attributes; the case's tensors are "<name>/<tensor>". A case runs as the subtest
// fixtures/<file>/<name>.
//
// Every floating-point output must agree with PyTorch per tensor:
//
//	max|got - want| <= fxTol * (1 + max|want|)
//
// (relative to the tensor's largest magnitude, absolute near zero). Outputs that only select or
// convert values (max pool forward, casts, the all-finite flag) must match exactly.

// fxTol is the tolerance against PyTorch (see above).
const fxTol = 1e-4

// fxEnvDir names an environment variable that, when set, overrides the fixture directory (for a
// test binary run away from its source tree).
const fxEnvDir = "RESNEXT_OPSTEST_TESTDATA"

// fxKernels maps the "op" attribute of a case to the code that checks it.
var fxKernels = map[string]func(c *fxCase){
	"conv2d":          fxConv2d,
	"batchnorm_train": fxBatchNormTrain,
	"batchnorm_infer": fxBatchNormInfer,
	"relu":            fxReLU,
	"maxpool2d":       fxMaxPool2d,
	"global_avg_pool": fxGlobalAvgPool,
	"matmul":          fxMatMul,
	"linear":          fxLinear,
	"bias":            fxBias,
	"cross_entropy":   fxCrossEntropy,
	"sgd_momentum":    fxSGD,
	"cast":            fxCast,
	"all_finite":      fxAllFinite,
	"add":             fxAdd,
	"scale":           fxScale,
}

// runFixtures checks b against the committed PyTorch fixtures in testdata/.
func runFixtures(t *testing.T, b ops.Backend) {
	t.Helper()
	dir, err := fxDir()
	if err != nil {
		t.Fatal(err)
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures in %s (%v): generate them with /usr/bin/python3 scripts/gen_fixtures.py", dir, err)
	}
	for _, path := range paths {
		f, err := safetensors.Read(path)
		if err != nil {
			t.Errorf("fixture: %v", err)
			continue
		}
		t.Run(strings.TrimSuffix(filepath.Base(path), ".safetensors"), func(t *testing.T) {
			n := 0
			for _, key := range slices.Sorted(maps.Keys(f.Metadata)) {
				name, ok := strings.CutPrefix(key, "case/")
				if !ok {
					continue
				}
				n++
				var attrs map[string]any
				if err := json.Unmarshal([]byte(f.Metadata[key]), &attrs); err != nil {
					t.Errorf("%s: case %s: bad attributes %q: %v", path, name, f.Metadata[key], err)
					continue
				}
				kernel, _ := attrs["op"].(string)
				check, ok := fxKernels[kernel]
				if !ok {
					t.Errorf("%s: case %s: unknown kernel %q (add it to fxKernels)", path, name, kernel)
					continue
				}
				run(t, b, name, func(e *env) {
					check(&fxCase{e: e, file: f, path: path, name: name, attrs: attrs})
					e.sync()
				})
			}
			if n == 0 {
				t.Errorf("%s holds no cases", path)
			}
		})
	}
}

// fxDir finds testdata next to this source file, so the suite works from any package's tests.
func fxDir() (string, error) {
	if d := os.Getenv(fxEnvDir); d != "" {
		return d, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("fixtures: cannot locate the opstest source; set %s to its testdata directory", fxEnvDir)
	}
	dir := filepath.Join(filepath.Dir(file), "testdata")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("fixtures: %v (built with -trimpath or moved? set %s to ops/opstest/testdata)", err, fxEnvDir)
	}
	return dir, nil
}

// fxCase is one fixture case being checked.
type fxCase struct {
	e     *env
	file  *safetensors.File
	path  string
	name  string
	attrs map[string]any
}

// get returns the case's tensor called name.
func (c *fxCase) get(name string) safetensors.Tensor {
	c.e.t.Helper()
	x, ok := c.file.Tensors[c.name+"/"+name]
	if !ok {
		c.e.t.Fatalf("%s: case %s has no tensor %q", c.path, c.name, name)
	}
	return x
}

// shape is the shape of the case's tensor called name.
func (c *fxCase) shape(name string) ops.Shape {
	c.e.t.Helper()
	return ops.Shape(slices.Clone(c.get(name).Shape))
}

// values returns the case's floating-point tensor called name as float32.
func (c *fxCase) values(name string) []float32 {
	c.e.t.Helper()
	v, err := c.get(name).Float32()
	if err != nil {
		c.e.t.Fatalf("%s: %v", c.path, err)
	}
	return v
}

var fxDTypes = map[string]ops.DType{
	safetensors.F32: ops.Float32, safetensors.F16: ops.Float16, safetensors.BF16: ops.BFloat16,
	safetensors.I32: ops.Int32, safetensors.I64: ops.Int64, safetensors.U8: ops.Uint8, safetensors.BOOL: ops.Bool,
}

// dtype is the ops type of the case's tensor called name.
func (c *fxCase) dtype(name string) ops.DType {
	c.e.t.Helper()
	x := c.get(name)
	dt, ok := fxDTypes[x.DType]
	if !ok {
		c.e.t.Fatalf("%s: tensor %s/%s has dtype %s, which backends do not hold", c.path, c.name, name, x.DType)
	}
	return dt
}

// in uploads the case's tensor called name, in its own dtype (the format's raw little-endian bytes
// are what Backend.Write takes).
func (c *fxCase) in(name string) ops.Tensor {
	c.e.t.Helper()
	t := c.e.alloc(c.dtype(name), c.shape(name))
	c.e.b.Write(t, c.get(name).Data)
	return t
}

// out allocates a float32 output shaped like the case's tensor name, filled with NaN so that an
// element the kernel does not write is caught.
func (c *fxCase) out(name string) ops.Tensor {
	c.e.t.Helper()
	return c.e.out(c.shape(name))
}

// check compares got with the case's tensor want: max|got-want| <= fxTol*(1+max|want|).
func (c *fxCase) check(want string, got ops.Tensor) {
	c.e.t.Helper()
	g, w := c.e.read(got), c.values(want)
	if !got.Shape().Equal(c.shape(want)) || len(g) != len(w) {
		c.e.t.Errorf("%s: shape %v, want %v", want, got.Shape(), c.shape(want))
		return
	}
	scale := 0.0
	for _, v := range w {
		scale = max(scale, math.Abs(float64(v)))
	}
	worst, at := 0.0, -1
	for i := range w {
		d := math.Abs(float64(g[i]) - float64(w[i]))
		if math.IsNaN(d) {
			c.e.t.Errorf("%s[%d] = %v, want %v (an element not written, or a non-finite result)", want, i, g[i], w[i])
			return
		}
		if d > worst {
			worst, at = d, i
		}
	}
	if bound := fxTol * (1 + scale); worst > bound {
		c.e.t.Errorf("%s: max |got-want| = %.3g at %s (got %.7g, want %.7g) exceeds %.0e*(1+max|want|) = %.3g",
			want, worst, fxIndex(c.shape(want), at), g[at], w[at], fxTol, bound)
	}
}

// exact compares the raw bytes of got with the case's tensor want, element by element; for
// floating-point types any NaN matches any NaN.
func (c *fxCase) exact(want string, got ops.Tensor) {
	c.e.t.Helper()
	x := c.get(want)
	if dt := c.dtype(want); got.DType() != dt || !got.Shape().Equal(c.shape(want)) {
		c.e.t.Errorf("%s: got %v %v, want %v %v", want, got.DType(), got.Shape(), dt, c.shape(want))
		return
	}
	g := c.e.readBytes(got)
	size := got.DType().Size()
	bad := 0
	for i := 0; i < len(g)/size; i++ {
		gb, wb := g[i*size:(i+1)*size], x.Data[i*size:(i+1)*size]
		if string(gb) == string(wb) || (fxIsNaN(got.DType(), gb) && fxIsNaN(got.DType(), wb)) {
			continue
		}
		if bad < 5 {
			c.e.t.Errorf("%s%s = %s, want %s", want, fxIndex(got.Shape(), i), fxFormat(got.DType(), gb), fxFormat(got.DType(), wb))
		}
		bad++
	}
	if bad > 5 {
		c.e.t.Errorf("%s: %d of %d elements differ", want, bad, len(g)/size)
	}
}

func fxIsNaN(dt ops.DType, b []byte) bool {
	switch dt {
	case ops.Float32:
		return math.IsNaN(float64(math.Float32frombits(binary.LittleEndian.Uint32(b))))
	case ops.Float16:
		h := binary.LittleEndian.Uint16(b)
		return h&0x7c00 == 0x7c00 && h&0x3ff != 0
	case ops.BFloat16:
		h := binary.LittleEndian.Uint16(b)
		return h&0x7f80 == 0x7f80 && h&0x7f != 0
	}
	return false
}

// fxFormat renders one element's bytes for a failure message.
func fxFormat(dt ops.DType, b []byte) string {
	switch dt {
	case ops.Float32:
		return fmt.Sprint(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	case ops.Float16:
		h := binary.LittleEndian.Uint16(b)
		return fmt.Sprintf("%v (%#04x)", ops.Float16Value(h), h)
	case ops.BFloat16:
		h := binary.LittleEndian.Uint16(b)
		return fmt.Sprintf("%v (%#04x)", ops.BFloat16Value(h), h)
	case ops.Int32:
		return fmt.Sprint(int32(binary.LittleEndian.Uint32(b)))
	case ops.Int64:
		return fmt.Sprint(int64(binary.LittleEndian.Uint64(b)))
	}
	return fmt.Sprint(b)
}

// fxIndex renders a flat index as a multi-dimensional one: [1, 0, 2, 3].
func fxIndex(s ops.Shape, i int) string {
	idx := make(ops.Shape, len(s))
	for d := len(s) - 1; d >= 0; d-- {
		idx[d] = i % s[d]
		i /= s[d]
	}
	return idx.String()
}

// num returns a numeric attribute.
func (c *fxCase) num(key string) float64 {
	c.e.t.Helper()
	v, ok := c.attrs[key].(float64)
	if !ok {
		c.e.t.Fatalf("%s: case %s: attribute %q = %v, want a number", c.path, c.name, key, c.attrs[key])
	}
	return v
}

// flag returns a boolean attribute.
func (c *fxCase) flag(key string) bool {
	c.e.t.Helper()
	v, ok := c.attrs[key].(bool)
	if !ok {
		c.e.t.Fatalf("%s: case %s: attribute %q = %v, want a boolean", c.path, c.name, key, c.attrs[key])
	}
	return v
}

// ints returns an attribute holding n integers.
func (c *fxCase) ints(key string, n int) []int {
	c.e.t.Helper()
	list, ok := c.attrs[key].([]any)
	if !ok || len(list) != n {
		c.e.t.Fatalf("%s: case %s: attribute %q = %v, want %d integers", c.path, c.name, key, c.attrs[key], n)
	}
	out := make([]int, n)
	for i, v := range list {
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			c.e.t.Fatalf("%s: case %s: attribute %q = %v, want integers", c.path, c.name, key, c.attrs[key])
		}
		out[i] = int(f)
	}
	return out
}

func fxConv2d(c *fxCase) {
	s, p, d := c.ints("stride", 2), c.ints("pad", 2), c.ints("dilation", 2)
	params := ops.Conv2dParams{StrideH: s[0], StrideW: s[1], PadH: p[0], PadW: p[1],
		DilationH: d[0], DilationW: d[1], Groups: int(c.num("groups"))}
	b := c.e.b
	x, w, dy := c.in("x"), c.in("w"), c.in("dy")
	y := c.out("y")
	b.Conv2d(x, w, y, params)
	c.check("y", y)

	dx, dw := c.out("dx"), c.out("dw")
	b.Conv2dBackward(dy, x, w, dx, dw, params)
	c.check("dx", dx)
	c.check("dw", dw)
	// The output mask: each gradient alone.
	dx, dw = c.out("dx"), c.out("dw")
	b.Conv2dBackward(dy, x, w, dx, nil, params)
	c.check("dx", dx)
	b.Conv2dBackward(dy, x, w, nil, dw, params)
	c.check("dw", dw)
}

func fxBatchNormTrain(c *fxCase) {
	eps, momentum := c.num("eps"), c.num("momentum")
	b := c.e.b
	x, gamma, beta := c.in("x"), c.in("gamma"), c.in("beta")
	runMean, runVar := c.in("running_mean"), c.in("running_var")
	y, mean, invStd := c.out("y"), c.out("save_mean"), c.out("save_invstd")
	b.BatchNormTrain(x, gamma, beta, runMean, runVar, y, mean, invStd, momentum, eps)
	c.check("y", y)
	c.check("save_mean", mean)
	c.check("save_invstd", invStd)
	c.check("running_mean_after", runMean)
	c.check("running_var_after", runVar)

	// The backward from PyTorch's saved statistics, so that it is checked on its own.
	dy, saveMean, saveInvStd := c.in("dy"), c.in("save_mean"), c.in("save_invstd")
	dx, dgamma, dbeta := c.out("dx"), c.out("dgamma"), c.out("dbeta")
	b.BatchNormBackward(dy, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta)
	c.check("dx", dx)
	c.check("dgamma", dgamma)
	c.check("dbeta", dbeta)
	dx = c.out("dx")
	b.BatchNormBackward(dy, x, gamma, saveMean, saveInvStd, dx, nil, nil)
	c.check("dx", dx)
}

func fxBatchNormInfer(c *fxCase) {
	y := c.out("y")
	c.e.b.BatchNormInfer(c.in("x"), c.in("gamma"), c.in("beta"), c.in("mean"), c.in("variance"), y, c.num("eps"))
	c.check("y", y)
}

func fxReLU(c *fxCase) {
	b := c.e.b
	y := c.out("y")
	b.ReLU(c.in("x"), y)
	c.check("y", y)
	inPlace := c.in("x")
	b.ReLU(inPlace, inPlace)
	c.check("y", inPlace)

	dx := c.out("dx")
	b.ReLUBackward(c.in("dy"), c.in("y"), dx)
	c.check("dx", dx)
	dy := c.in("dy")
	b.ReLUBackward(dy, c.in("y"), dy)
	c.check("dx", dy)
}

func fxMaxPool2d(c *fxCase) {
	k, s, pad := c.ints("kernel", 2), c.ints("stride", 2), c.ints("pad", 4)
	p := ops.Pool2dParams{KernelH: k[0], KernelW: k[1], StrideH: s[0], StrideW: s[1],
		PadTop: pad[0], PadBottom: pad[1], PadLeft: pad[2], PadRight: pad[3]}
	xs := c.shape("x")
	if mode, _ := c.attrs["mode"].(string); mode == "same" {
		if want := ops.SamePool(k[0], s[0], xs[2], xs[3]); k[0] == k[1] && s[0] == s[1] && want != p {
			c.e.t.Fatalf("PyTorch's \"same\" padding %+v differs from ops.SamePool's %+v", p, want)
		}
	}
	b := c.e.b
	x := c.in("x")
	ms, mdt := b.MaxPool2dMask(xs, p)
	mask := c.e.alloc(mdt, ms)
	y := c.out("y")
	b.MaxPool2d(x, y, mask, p)
	c.check("y", y)
	c.exact("y", y) // a max selects one input: no rounding

	dx := c.out("dx")
	b.MaxPool2dBackward(c.in("dy"), x, mask, dx, p)
	c.check("dx", dx)
}

func fxGlobalAvgPool(c *fxCase) {
	y, dx := c.out("y"), c.out("dx")
	c.e.b.GlobalAvgPool(c.in("x"), y)
	c.check("y", y)
	c.e.b.GlobalAvgPoolBackward(c.in("dy"), dx)
	c.check("dx", dx)
}

func fxMatMul(c *fxCase) {
	out := c.out("c")
	c.e.b.MatMul(c.in("a"), c.in("b"), out, c.flag("trans_a"), c.flag("trans_b"))
	c.check("c", out)
}

// fxLinear checks a linear layer composed as nn composes it: y = x @ w^T + bias, dx = dy @ w,
// dw = dy^T @ x, dbias = sum over the batch of dy.
func fxLinear(c *fxCase) {
	b := c.e.b
	x, w, bias, dy := c.in("x"), c.in("w"), c.in("bias"), c.in("dy")
	y := c.out("y")
	b.MatMul(x, w, y, false, true)
	b.BiasAdd(y, bias, y)
	c.check("y", y)
	dx, dw, db := c.out("dx"), c.out("dw"), c.out("db")
	b.MatMul(dy, w, dx, false, false)
	b.MatMul(dy, x, dw, true, false)
	b.BiasGrad(dy, db)
	c.check("dx", dx)
	c.check("dw", dw)
	c.check("db", db)
}

func fxBias(c *fxCase) {
	y, db := c.out("y"), c.out("db")
	c.e.b.BiasAdd(c.in("x"), c.in("bias"), y)
	c.check("y", y)
	c.e.b.BiasGrad(c.in("dy"), db)
	c.check("db", db)
}

func fxCrossEntropy(c *fxCase) {
	smoothing, scale := c.num("smoothing"), c.num("scale")
	b := c.e.b
	labels := c.in("labels")
	logProb, loss := c.out("log_prob"), c.out("loss")
	b.CrossEntropy(c.in("logits"), labels, logProb, loss, smoothing)
	c.check("loss", loss)
	c.check("log_prob", logProb)
	dlogits := c.out("dlogits")
	b.CrossEntropyBackward(c.in("log_prob"), labels, dlogits, smoothing, scale)
	c.check("dlogits", dlogits)
}

func fxSGD(c *fxCase) {
	p := ops.SGDParams{LR: c.num("lr"), Momentum: c.num("momentum"), WeightDecay: c.num("weight_decay"),
		Nesterov: c.flag("nesterov"), GradScale: c.num("grad_scale")}
	param, accum := c.in("param"), c.in("accum")
	c.e.b.SGDMomentum(param, c.in("grad"), accum, p)
	c.check("param_after", param)
	c.check("accum_after", accum)
}

func fxCast(c *fxCase) {
	y := c.e.alloc(c.dtype("y"), c.shape("y"))
	c.e.b.Cast(c.in("x"), y)
	c.exact("y", y)
}

func fxAllFinite(c *fxCase) {
	n := int(c.num("count"))
	ts := make([]ops.Tensor, n)
	for i := range ts {
		ts[i] = c.in(fmt.Sprintf("t%d", i))
	}
	want := c.get("out").Data
	out := c.e.alloc(ops.Bool, ops.Shape{})
	if want[0] != 0 { // start from the wrong answer: the kernel must write it
		c.e.b.Fill(out, 0)
	} else {
		c.e.b.Fill(out, 1)
	}
	c.e.b.AllFinite(ts, out)
	got := c.e.readBytes(out)
	if got[0] != want[0] {
		c.e.t.Errorf("AllFinite = %d, want %d", got[0], want[0])
	}
}

func fxAdd(c *fxCase) {
	alpha := c.num("alpha")
	y := c.out("y")
	c.e.b.Add(c.in("a"), c.in("b"), y, alpha)
	c.check("y", y)
	a := c.in("a")
	c.e.b.Add(a, c.in("b"), a, alpha)
	c.check("y", a)
}

func fxScale(c *fxCase) {
	alpha := c.num("alpha")
	y := c.out("y")
	c.e.b.Scale(c.in("x"), y, alpha)
	c.check("y", y)
	x := c.in("x")
	c.e.b.Scale(x, x, alpha)
	c.check("y", x)
}
