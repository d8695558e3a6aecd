package nn

import (
	"fmt"

	"github.com/resnext/resnext/ops"
)

// Momentum is the momentum of BatchNorm's moving statistics with its convention made explicit,
// because the two frameworks use the word for opposite weights: MindSpore's m keeps m of the old
// value (moving = m*moving + (1-m)*batch), PyTorch's m takes m of the batch
// (running = (1-m)*running + m*batch). MindCV's 0.9 is PyTorch's 0.1. Build one with
// MindSporeMomentum or TorchMomentum; the zero value is not a momentum.
type Momentum struct {
	torch float64
	set   bool
}

// MindSporeMomentum is momentum m in MindSpore's convention: m is the weight of the old value.
func MindSporeMomentum(m float64) Momentum { return checkMomentum(1-m, m, "MindSporeMomentum") }

// TorchMomentum is momentum m in PyTorch's convention: m is the weight of the batch statistic.
func TorchMomentum(m float64) Momentum { return checkMomentum(m, m, "TorchMomentum") }

func checkMomentum(torch, arg float64, fn string) Momentum {
	if !(arg >= 0 && arg <= 1) {
		misuse(fn, "momentum %v is not in [0, 1]", arg)
	}
	return Momentum{torch: torch, set: true}
}

// MindCVMomentum is the momentum of every BatchNorm in MindCV's ResNeXt: 0.9 in MindSpore's terms.
var MindCVMomentum = MindSporeMomentum(0.9)

// Torch returns the momentum in PyTorch's convention (the weight of the batch statistic), the one
// ops.Backend.BatchNormTrain takes.
func (m Momentum) Torch() float64 { return m.torch }

// MindSpore returns the momentum in MindSpore's convention (the weight of the old value).
func (m Momentum) MindSpore() float64 { return 1 - m.torch }

// String shows the momentum in both conventions.
func (m Momentum) String() string {
	if !m.set {
		return "momentum (unset)"
	}
	return fmt.Sprintf("momentum %.10g (PyTorch) = %.10g (MindSpore)", m.Torch(), m.MindSpore())
}

// BatchNorm2d normalises each channel of [N, C, H, W]: in training with the batch statistics,
// updating the moving statistics; in evaluation with the moving statistics. Its parameters, by
// their MindCV names: "gamma" (1 at first) and "beta" (0), trainable; "moving_mean" (0) and
// "moving_variance" (1), not trainable. A float16 input (amp_level O2) gives a float16 output and
// input gradient; the parameters, their gradients and the saved batch statistics stay float32.
type BatchNorm2d struct {
	// Gamma, Beta, MovingMean and MovingVariance are the parameters, each [C] float32.
	Gamma, Beta, MovingMean, MovingVariance *Param
	// Eps is added to the variance before the square root: 1e-5 unless changed.
	Eps float64
	// Momentum weighs the moving statistics' update.
	Momentum Momentum
	// ReLU applies max(y, 0) to the output in the same kernel (ops.BatchNormReLUTrain): batch norm
	// and the ReLU that follows it, without the ReLU's own pass over memory. Backward then takes
	// the gradient of the ReLU's output and writes the ReLU's gradient over it, so, as for an
	// in-place ReLU, dy must be read by no other layer; and it reads the output, which must stay
	// unchanged until then.
	ReLU bool
	// ReLUGrad makes Backward apply a ReLU's gradient to dy first, as ReLU does, in the same kernel:
	// the gradient of max(v, 0), v being what the output buffer holds when Backward runs. ReLU
	// implies it; ReLUGrad alone is for a ReLU that runs on the output buffer in place after
	// other layers wrote over it (the residual block's relu(bn3(x) + identity), summed and
	// rectified over bn3's output), whose own Backward then need not run. dy is overwritten.
	ReLUGrad bool

	b          ops.Backend
	c          int
	training   bool
	trained    bool // the last Forward used batch statistics
	x, y, dx   ops.Tensor
	mean, istd ops.Tensor // the last training Forward's batch mean and 1/sqrt(var+eps)
}

// NewBatchNorm2d returns a batch norm over c channels, in training mode, with eps 1e-5.
func NewBatchNorm2d(b ops.Backend, c int, m Momentum) *BatchNorm2d {
	if c <= 0 {
		misuse("NewBatchNorm2d", "%d channels, want at least 1", c)
	}
	if !m.set {
		misuse("NewBatchNorm2d", "momentum not set: build it with MindSporeMomentum or TorchMomentum")
	}
	shape := ops.Shape{c}
	return &BatchNorm2d{
		Gamma:          newParam(b, "gamma", shape, 1, true),
		Beta:           newParam(b, "beta", shape, 0, true),
		MovingMean:     newParam(b, "moving_mean", shape, 0, false),
		MovingVariance: newParam(b, "moving_variance", shape, 1, false),
		Eps:            1e-5,
		Momentum:       m,
		b:              b, c: c, training: true,
	}
}

func (n *BatchNorm2d) name() string { return label("BatchNorm2d", n.Gamma, "gamma") }

// Forward normalises x. In training it uses the batch statistics and updates the moving ones; in
// evaluation it uses the moving statistics.
func (n *BatchNorm2d) Forward(x ops.Tensor) ops.Tensor {
	wantInput(n.name(), x, n.c)
	y := buffer(n.b, &n.y, x.DType(), x.Shape())
	if !n.training {
		g, bt, m, v := n.Gamma.Value, n.Beta.Value, n.MovingMean.Value, n.MovingVariance.Value
		if n.ReLU {
			ops.BatchNormReLUInfer(n.b, x, g, bt, m, v, y, n.Eps)
		} else {
			n.b.BatchNormInfer(x, g, bt, m, v, y, n.Eps)
		}
		n.x, n.trained = x, false
		return y
	}
	if x.Shape().Numel()/n.c < 2 {
		misuse(n.name(), "input %v has one value per channel: batch statistics need at least two", x.Shape())
	}
	mean := buffer(n.b, &n.mean, ops.Float32, ops.Shape{n.c})
	istd := buffer(n.b, &n.istd, ops.Float32, ops.Shape{n.c})
	g, bt, rm, rv := n.Gamma.Value, n.Beta.Value, n.MovingMean.Value, n.MovingVariance.Value
	if n.ReLU {
		ops.BatchNormReLUTrain(n.b, x, g, bt, rm, rv, y, mean, istd, n.Momentum.Torch(), n.Eps)
	} else {
		n.b.BatchNormTrain(x, g, bt, rm, rv, y, mean, istd, n.Momentum.Torch(), n.Eps)
	}
	n.x, n.trained = x, true
	return y
}

// Backward writes the gradients of gamma and beta (unless frozen) and returns the input gradient.
// It needs a training-mode Forward: the gradient through evaluation-mode statistics is not
// implemented.
func (n *BatchNorm2d) Backward(dy ops.Tensor) ops.Tensor {
	wantGrad(n.name(), dy, n.x, n.x) // the output has the input's shape, and may be gone (ReleaseOutput)
	if !n.trained {
		misuse(n.name(), "Backward after an evaluation-mode Forward: only training mode has a backward")
	}
	dx := buffer(n.b, &n.dx, n.x.DType(), n.x.Shape())
	if n.ReLU || n.ReLUGrad {
		if n.y == nil {
			misuse(n.name(), "Backward with ReLU after the output was released: the ReLU's gradient needs it")
		}
		ops.BatchNormReLUBackward(n.b, dy, n.x, n.y, n.Gamma.Value, n.mean, n.istd, dx, n.Gamma.grad(n.b), n.Beta.grad(n.b))
		return dx
	}
	n.b.BatchNormBackward(dy, n.x, n.Gamma.Value, n.mean, n.istd, dx, n.Gamma.grad(n.b), n.Beta.grad(n.b))
	return dx
}

// Params returns gamma, beta, moving_mean and moving_variance.
func (n *BatchNorm2d) Params() []*Param {
	return []*Param{n.Gamma, n.Beta, n.MovingMean, n.MovingVariance}
}

// SetTraining selects batch statistics (true) or the moving statistics (false).
func (n *BatchNorm2d) SetTraining(training bool) { n.training = training }

// Free releases the parameters, their gradients and the buffers.
func (n *BatchNorm2d) Free() {
	for _, p := range n.Params() {
		p.free(n.b)
	}
	n.ReleaseBuffers()
}

// ReleaseBuffers gives back the output, the input gradient and the saved batch statistics.
func (n *BatchNorm2d) ReleaseBuffers() {
	freeAll(n.b, &n.y)
	n.ReleaseBackward()
}

// ReleaseOutput gives back the output, keeping what Backward needs (see OutputReleaser): with ReLU
// or ReLUGrad, Backward needs the output, which then stays.
func (n *BatchNorm2d) ReleaseOutput() {
	if !n.ReLU && !n.ReLUGrad {
		freeAll(n.b, &n.y)
	}
}

// ReleaseBackward gives back the input gradient and the saved batch statistics and forgets the
// input, keeping the output.
func (n *BatchNorm2d) ReleaseBackward() {
	freeAll(n.b, &n.dx, &n.mean, &n.istd)
	n.x = nil
}
