package resnext

import (
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// shapeOnly is a backend that allocates no storage: its tensors are shapes and it accepts only the
// calls that building a model makes (Alloc, Fill, Free), so the largest variants build in
// microseconds for counting and naming their parameters. Any other kernel panics (the embedded nil
// interface).
type shapeOnly struct{ ops.Backend }

type shapeTensor struct {
	shape ops.Shape
	dt    ops.DType
}

func (s *shapeTensor) Shape() ops.Shape { return s.shape }
func (s *shapeTensor) DType() ops.DType { return s.dt }

func (shapeOnly) Name() string                               { return "shapes" }
func (shapeOnly) Alloc(dt ops.DType, s ops.Shape) ops.Tensor { return &shapeTensor{s.Clone(), dt} }
func (shapeOnly) Fill(ops.Tensor, float64)                   {}
func (shapeOnly) Free(ops.Tensor)                            {}

// noCompute is shapeOnly that also accepts the kernels of a training step and does nothing in
// them: a ResNeXt-50 step at batch 16 runs in microseconds, so that a counting backend wrapped
// around it measures the memory the step holds.
type noCompute struct{ shapeOnly }

func (noCompute) Conv2d(_, _, _ ops.Tensor, _ ops.Conv2dParams)                  {}
func (noCompute) Conv2dBackward(_, _, _, _, _ ops.Tensor, _ ops.Conv2dParams)    {}
func (noCompute) BatchNormTrain(_, _, _, _, _, _, _, _ ops.Tensor, _, _ float64) {}
func (noCompute) BatchNormBackward(_, _, _, _, _, _, _, _ ops.Tensor)            {}
func (noCompute) ReLU(_, _ ops.Tensor)                                           {}
func (noCompute) ReLUBackward(_, _, _ ops.Tensor)                                {}
func (noCompute) MaxPool2dMask(x ops.Shape, p ops.Pool2dParams) (ops.Shape, ops.DType) {
	return ops.PoolOutShape("MaxPool2dMask", x, p), ops.Int32 // as the CPU backend's
}
func (noCompute) MaxPool2d(_, _, _ ops.Tensor, _ ops.Pool2dParams)            {}
func (noCompute) MaxPool2dBackward(_, _, _, _ ops.Tensor, _ ops.Pool2dParams) {}
func (noCompute) GlobalAvgPool(_, _ ops.Tensor)                               {}
func (noCompute) GlobalAvgPoolBackward(_, _ ops.Tensor)                       {}
func (noCompute) MatMul(_, _, _ ops.Tensor, _, _ bool)                        {}
func (noCompute) BiasAdd(_, _, _ ops.Tensor)                                  {}
func (noCompute) BiasGrad(_, _ ops.Tensor)                                    {}
func (noCompute) CrossEntropy(_, _, _, _ ops.Tensor, _ float64)               {}
func (noCompute) CrossEntropyBackward(_, _, _ ops.Tensor, _, _ float64)       {}
func (noCompute) Add(_, _, _ ops.Tensor, _ float64)                           {}
func (noCompute) SGDMomentum(_, _, _ ops.Tensor, _ ops.SGDParams)             {}

// sgd is MindCV's momentum SGD on the backend's fused step, for tests that train (package train,
// which holds the engine's optimizer, sits above this one): one float32 accumulator per trainable
// parameter, the gradient divided by lossScale (0 means 1).
type sgd struct {
	b         ops.Backend
	p         ops.SGDParams
	params    []*nn.Param
	accum     []ops.Tensor
	lossScale float64
}

func newSGD(b ops.Backend, params []*nn.Param, momentum, weightDecay float64, nesterov bool) *sgd {
	s := &sgd{b: b, p: ops.SGDParams{Momentum: momentum, WeightDecay: weightDecay, Nesterov: nesterov}}
	for _, p := range params {
		if p.Trainable {
			a := b.Alloc(ops.Float32, p.Value.Shape())
			b.Fill(a, 0)
			s.params, s.accum = append(s.params, p), append(s.accum, a)
		}
	}
	return s
}

// Step updates every trainable parameter that has a gradient, with learning rate lr.
func (s *sgd) Step(lr float64) {
	p := s.p
	p.LR = lr
	if s.lossScale != 0 {
		p.GradScale = 1 / s.lossScale
	}
	for i, param := range s.params {
		if param.Trainable && param.Grad != nil {
			s.b.SGDMomentum(param.Value, param.Grad, s.accum[i], p)
		}
	}
}

// Free releases the accumulators.
func (s *sgd) Free() {
	for _, a := range s.accum {
		s.b.Free(a)
	}
	s.accum = nil
}

// halfNoCompute is noCompute on a backend that computes in float16 (ops.Float16Compute), with Cast
// doing nothing like the other kernels: for measuring a float16 step's memory. noCompute itself
// has no Cast (the embedded nil interface panics), so a float32 step that casts fails there.
type halfNoCompute struct{ noCompute }

func (halfNoCompute) Cast(_, _ ops.Tensor)  {}
func (halfNoCompute) ComputesFloat16() bool { return true }
