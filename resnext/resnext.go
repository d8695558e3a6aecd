// Package resnext is the ResNeXt architecture (Xie et al. 2017) as MindCV builds it: the registered
// variants with MindCV's names, their configuration, the Bottleneck block and the Model, with
// MindCV's parameter names, order and initialisation, on any ops.Backend.
//
// The network, for resnext50_32x4d on a 224x224 image:
//
//	conv1 7x7/2, 64  -> bn1 -> relu -> max_pool 3x3/2 ("same")    112x112, then 56x56
//	layer1  3 x Bottleneck(width 128, 32 groups) -> 256 channels  56x56
//	layer2  4 x Bottleneck(width 256, 32 groups) -> 512 channels  28x28 (stride 2 in the first block)
//	layer3  6 x Bottleneck(width 512, 32 groups) -> 1024 channels 14x14
//	layer4  3 x Bottleneck(width 1024, 32 groups) -> 2048 channels 7x7
//	pool (global average) -> classifier Dense(2048, num_classes)
//
// Build one with New from a Config, usually a registered Variant:
//
//	cfg, err := resnext.Variant("resnext50_32x4d")
//	...
//	cfg.NumClasses = 5
//	m, err := resnext.New(backend, cfg, 42)
//
// The Model is an nn.Layer: Forward maps images [N, InChannels, H, W] to logits [N, NumClasses],
// Backward takes the gradient of the logits and writes every parameter's gradient, and Params lists
// the parameters by their MindCV checkpoint names (conv1.weight, bn1.gamma, ...,
// layer4.2.bn3.moving_variance, classifier.bias) in MindCV's order.
//
// A Model computes in float32 unless told otherwise: SetComputeType(ops.Float16) is MindCV's
// amp_level O2 on a backend whose kernels take float16 (ops.CanCompute): every layer computes in
// float16 but the batch norms' statistics and affine parameters, the parameters stay float32
// (master weights, cast to float16 at each Forward), and the logits come out in float32, the
// loss's type. See Compute type in package nn.
package resnext

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// Model is a ResNeXt (or ResNet): stem, layer1..layer4 of Bottleneck blocks, global average pool and
// a linear classifier. It owns its parameters and buffers, and gives the buffers back as soon as
// nothing can read them (see Buffers in package nn): a training step holds the activations PyTorch
// would save, and once two steps have run with an input shape the backend's pool serves every
// buffer.
type Model struct {
	b          ops.Backend
	cfg        Config
	conv1      *nn.Conv2d
	bn1        *nn.BatchNorm2d
	maxPool    *nn.MaxPool2d // nil with the small stem
	layers     [4]*nn.Sequential
	pool       *nn.GlobalAvgPool
	classifier *nn.Linear
	chain      []nn.Layer // the layers above, in order
	out        nn.Layer   // the layer holding the last Forward's output (the classifier)
	params     []*nn.Param
	evaluating bool // set by SetTraining(false): Forward releases buffers as it goes
	keep       bool // set by KeepBuffers(true): Backward releases nothing

	// Freeze: the layers of chain before frozen do not train, trainableStages is Freeze's argument,
	// and frozenOut holds the frozen part's output in training until Backward.
	frozen          int
	trainableStages int
	frozenOut       nn.Layer

	compute ops.DType  // the dtype the layers compute in (SetComputeType)
	yType   ops.DType  // the dtype of the classifier's output in the last Forward
	xc      ops.Tensor // the input cast to the compute type, when it came in another
	logits  ops.Tensor // the classifier's output cast to float32, under another compute type
	dyc     ops.Tensor // the logits' gradient cast to the compute type

	gradsDone func(nn.Layer) // Backward's notification of each layer or block done (OnGrads)
}

// New builds the network cfg describes on b and initialises it as MindCV does, drawing from seed
// (see Init).
func New(b ops.Backend, cfg Config, seed uint64) (*Model, error) {
	m, err := Build(b, cfg)
	if err != nil {
		return nil, err
	}
	m.Init(seed)
	return m, nil
}

// Build builds the network cfg describes on b without drawing the weights: every convolution and
// the classifier are zero, the batch norms at gamma 1, beta 0, moving mean 0 and moving variance 1.
// Use it when a checkpoint's values come next; New is Build followed by Init.
func Build(b ops.Backend, cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxPool == "" {
		cfg.MaxPool = nn.PoolSame
	}
	m := &Model{b: b, cfg: cfg, compute: ops.Float32}
	if cfg.Stem == SmallStem {
		m.conv1 = nn.NewConv2d(b, cfg.InChannels, cfg.Planes, 3, 1, 1, 1)
	} else {
		m.conv1 = nn.NewConv2d(b, cfg.InChannels, cfg.Planes, 7, 2, 3, 1)
		m.maxPool = nn.NewMaxPool2dPadded(b, 3, 2, cfg.MaxPool)
	}
	m.conv1.NoInputGrad = true // its input is the data
	m.bn1 = nn.NewBatchNorm2d(b, cfg.Planes, nn.MindCVMomentum)
	m.bn1.ReLU = true // relu(bn1(...)) in one kernel
	for k, blocks := range cfg.Stages() {
		stage := make([]nn.Layer, len(blocks))
		for i, s := range blocks {
			stage[i] = NewBottleneck(b, s, nn.MindCVMomentum)
		}
		m.layers[k] = nn.NewSequential(stage...) // blocks named 0, 1, ...
	}
	m.pool = nn.NewGlobalAvgPool(b)
	m.classifier = nn.NewLinear(b, cfg.NumFeatures(), cfg.NumClasses)

	m.params = slices.Concat(nn.Child("conv1", m.conv1), nn.Child("bn1", m.bn1))
	for k, l := range m.layers {
		m.params = append(m.params, nn.Child("layer"+strconv.Itoa(k+1), l)...)
	}
	m.params = append(m.params, nn.Child("classifier", m.classifier)...)
	m.link()
	return m, nil
}

// link lists the layers in the order Forward runs them.
func (m *Model) link() {
	m.chain = []nn.Layer{m.conv1, m.bn1}
	if m.maxPool != nil {
		m.chain = append(m.chain, m.maxPool)
	}
	for _, l := range m.layers {
		m.chain = append(m.chain, l)
	}
	m.chain = append(m.chain, m.pool, m.classifier)
	m.out = nil       // until the next Forward
	if m.frozen > 0 { // a new classifier or max pool: the frozen part is the same layers
		m.frozen = m.frozenLayers()
		m.classifier.NoInputGrad = m.chain[m.frozen] == nn.Layer(m.classifier)
	}
}

// Init sets every parameter to MindCV's initial values, drawn in parameter order from a generator
// seeded with seed (nn.NewRand), so that a seed gives the same network on every backend:
// convolutions from HeNormal (fan_out, ReLU), the classifier's weight from HeUniform (fan_in) and
// its bias 0, batch norms at gamma 1, beta 0, moving mean 0 and moving variance 1.
func (m *Model) Init(seed uint64) {
	r := nn.NewRand(seed)
	for _, p := range m.params {
		switch {
		case p.Value.Shape().Rank() == 4:
			nn.HeNormal(m.b, p.Value, r)
		case p.Value.Shape().Rank() == 2:
			nn.HeUniform(m.b, p.Value, r)
		case strings.HasSuffix(p.Name, ".gamma") || strings.HasSuffix(p.Name, ".moving_variance"):
			nn.Ones(m.b, p.Value)
		default: // beta, moving_mean, the classifier's bias
			nn.Zeros(m.b, p.Value)
		}
	}
}

// Config returns the model's configuration, with its current max-pool padding and classes.
func (m *Model) Config() Config { return m.cfg }

// Forward computes the logits [N, NumClasses] of images x [N, InChannels, H, W], float32 or
// float16. The layers compute in the model's compute type (SetComputeType), x being cast to it
// when it has another dtype, and the logits are float32 whatever the compute type. The result
// belongs to the model and stays valid until its next Forward (Backward leaves it alone); x must
// stay unchanged until Backward.
//
// In evaluation mode each layer's buffers go back to the backend as soon as the next layer has read
// them (nn.ForwardChain), so inference holds a few layers' activations rather than all of them.
func (m *Model) Forward(x ops.Tensor) ops.Tensor {
	if x != nil && x.DType() != m.compute {
		xc := m.buffer(&m.xc, m.compute, x.Shape())
		m.b.Cast(x, xc)
		x = xc
	} else {
		m.release(&m.xc)
	}
	var y ops.Tensor
	if m.frozen > 0 && !m.evaluating {
		// The frozen part runs as inference; its output stays until Backward.
		h, holder := nn.ForwardChain(m.chain[:m.frozen], x, true)
		m.release(&m.xc) // conv1 has read it
		y, m.out = nn.ForwardChain(m.chain[m.frozen:], h, false)
		m.frozenOut = holder
	} else {
		y, m.out = nn.ForwardChain(m.chain, x, m.evaluating)
	}
	if m.evaluating {
		m.release(&m.xc) // conv1 has read it
	}
	m.yType = y.DType()
	if m.yType == ops.Float32 {
		m.release(&m.logits)
		return y
	}
	logits := m.buffer(&m.logits, ops.Float32, y.Shape())
	m.b.Cast(y, logits)
	if m.evaluating {
		m.out.ReleaseBuffers() // the cast has read the classifier's output
	}
	m.out = nil // no layer holds the model's output
	return logits
}

// Backward takes the gradient of the loss with respect to the logits of the last Forward, float32
// (it is cast to the compute type when that differs), and writes the gradient of every trainable
// parameter (overwriting it), float32 whatever the compute type. It returns nil: the stem computes
// no gradient for the images. When the classifier has NoInputGrad set (a frozen backbone), only the
// classifier gets gradients.
//
// Each layer's buffers go back to the backend as soon as nothing can read them (nn.BackwardChain),
// but for the logits, which stay valid: after Backward the model holds its parameters, their
// gradients and the logits (and, under float16 compute, the layers' float16 copies of their
// weights), and the next Backward needs a new Forward. With KeepBuffers(true) every buffer stays.
func (m *Model) Backward(dy ops.Tensor) ops.Tensor {
	if dy != nil && m.yType != ops.Invalid && dy.DType() != m.yType {
		dyc := m.buffer(&m.dyc, m.yType, dy.Shape())
		m.b.Cast(dy, dyc)
		dy = dyc
	}
	if m.frozen > 0 {
		nn.BackwardChainNotify(m.chain[m.frozen:], dy, !m.keep, m.out, m.gradsDone)
		if !m.keep {
			m.release(&m.dyc)
			if m.frozenOut != nil {
				m.frozenOut.ReleaseBuffers() // the first trained layer has read it
				m.frozenOut = nil
			}
		}
		return nil
	}
	dx := nn.BackwardChainNotify(m.chain, dy, !m.keep, m.out, m.gradsDone)
	if !m.keep {
		m.release(&m.dyc, &m.xc)
	}
	return dx
}

// SetComputeType sets the dtype the layers compute in: ops.Float32 (the default; MindCV's amp_level
// O0) or ops.Float16 (amp_level O2), which needs a backend whose kernels take float16 tensors
// (ops.CanCompute; the CPU backend computes in float32 only). Under float16 compute the batch
// norms keep float32 statistics and affine parameters, Params stay float32 (their values and
// gradients: the optimizer, checkpoints and averages see float32 only), each Conv2d and the
// classifier cast their weights to float16 at each Forward and their float16 weight gradients into
// the float32 Param.Grad, and Forward returns float32 logits. Gradients under a loss scale can
// overflow float16: check Param.Grad with ops.Backend.AllFinite before a step.
//
// It returns an error, changing nothing, for another dtype or a backend that cannot compute in dt.
// A change gives back every buffer (ReleaseBuffers), so Backward needs a new Forward.
func (m *Model) SetComputeType(dt ops.DType) error {
	if err := nn.CheckComputeType(m.b, dt); err != nil {
		return fmt.Errorf("model %s: %w", m.cfg.Name, err)
	}
	if dt != m.compute {
		m.ReleaseBuffers()
		m.compute = dt
	}
	return nil
}

// ComputeType returns the dtype the layers compute in (see SetComputeType).
func (m *Model) ComputeType() ops.DType { return m.compute }

// buffer returns *t when it has the given dtype and shape, else frees it and allocates another.
func (m *Model) buffer(t *ops.Tensor, dt ops.DType, shape ops.Shape) ops.Tensor {
	if *t != nil && (*t).DType() == dt && (*t).Shape().Equal(shape) {
		return *t
	}
	m.release(t)
	*t = m.b.Alloc(dt, shape)
	return *t
}

// release frees the non-nil tensors and sets them to nil.
func (m *Model) release(ts ...*ops.Tensor) {
	for _, t := range ts {
		if *t != nil {
			m.b.Free(*t)
			*t = nil
		}
	}
}

// OnGrads makes Backward call ready, as it goes, with the parameters whose gradients it has just
// written (queued, on a device backend): those of each stem layer, each bottleneck block and the
// classifier, the classifier first. A data-parallel step starts averaging them while the rest of
// the backward pass runs. nil stops the calls.
func (m *Model) OnGrads(ready func(ps []*nn.Param)) {
	m.gradsDone = nil
	var block func(nn.Layer)
	if ready != nil {
		block = func(l nn.Layer) { ready(l.Params()) }
		m.gradsDone = func(l nn.Layer) {
			if _, stage := l.(*nn.Sequential); !stage { // a stage has told of its blocks
				ready(l.Params())
			}
		}
	}
	for _, s := range m.layers {
		s.NotifyBackward(block)
	}
}

// Params lists the parameters by their MindCV names, in MindCV's order: conv1, bn1, layer1..layer4
// block by block (conv1, bn1, conv2, bn2, conv3, bn3, down_sample.0, down_sample.1), classifier.
func (m *Model) Params() []*nn.Param { return m.params }

// NumParams counts the parameters' elements: the trainable ones, and all of them (with the batch
// norms' moving statistics, as MindCV's tables do).
func (m *Model) NumParams() (trainable, total int) {
	for _, p := range m.params {
		n := p.Value.Shape().Numel()
		total += n
		if p.Trainable {
			trainable += n
		}
	}
	return trainable, total
}

// SetTraining switches every batch norm between batch statistics (training, the default) and the
// moving statistics (evaluation).
func (m *Model) SetTraining(training bool) {
	m.evaluating = !training
	for i, l := range m.chain {
		l.SetTraining(training && i >= m.frozen)
	}
}

// SetMaxPoolPadding switches the ImageNet stem's max pool to padding p: nn.PoolSame for MindCV's
// weights, nn.PoolSymmetric for torchvision's. It is an error on a model with the small stem.
func (m *Model) SetMaxPoolPadding(p nn.PoolPadding) error {
	if p != nn.PoolSame && p != nn.PoolSymmetric {
		return fmt.Errorf("model %s: max pool padding %v: want same or symmetric", m.cfg.Name, p)
	}
	if m.maxPool == nil {
		return fmt.Errorf("model %s has the small stem, which has no max pool: padding %v does not apply", m.cfg.Name, p)
	}
	if p != m.cfg.MaxPool {
		m.maxPool.Free()
		m.maxPool = nn.NewMaxPool2dPadded(m.b, 3, 2, p)
		m.cfg.MaxPool = p
		m.link()
	}
	return nil
}

// Classifier returns the final linear layer ("classifier"). Set its NoInputGrad to train the
// classifier alone on a frozen backbone (with the other parameters' Trainable false).
func (m *Model) Classifier() *nn.Linear { return m.classifier }

// ResetClassifier replaces the classifier with a new one for numClasses classes, initialised as
// Init does (HeUniform weight from seed, zero bias): the start of fine-tuning a pretrained model on
// other classes. Params changes accordingly: re-read it (and rebuild optimizer state) afterwards.
func (m *Model) ResetClassifier(numClasses int, seed uint64) error {
	if numClasses < 1 {
		return fmt.Errorf("model %s: %d classes: want at least 1 (the number of classes in the data)", m.cfg.Name, numClasses)
	}
	m.classifier.Free()
	m.classifier = nn.NewLinear(m.b, m.cfg.NumFeatures(), numClasses)
	nn.HeUniform(m.b, m.classifier.Weight.Value, nn.NewRand(seed))
	m.params = append(m.params[:len(m.params)-2:len(m.params)-2], nn.Child("classifier", m.classifier)...)
	m.cfg.NumClasses = numClasses
	m.link()
	return nil
}

// KeepBuffers sets whether training keeps every layer's buffers (see nn.BufferKeeper): for
// inspecting the layers' outputs and gradients after a step.
func (m *Model) KeepBuffers(keep bool) {
	m.keep = keep
	for _, l := range m.chain {
		nn.SetKeepBuffers(l, keep)
	}
}

// Free releases every parameter and buffer. The model must not be used afterwards.
func (m *Model) Free() {
	for _, l := range m.chain {
		l.Free()
	}
	m.release(&m.xc, &m.dyc, &m.logits)
	m.chain, m.params = nil, nil
}

// ReleaseBackward gives back every layer's buffers but the logits (see nn.Layer).
func (m *Model) ReleaseBackward() {
	nn.ReleaseBackwardChain(m.chain, m.out)
	m.release(&m.xc, &m.dyc)
}

// ReleaseBuffers gives back every layer's buffers, keeping the parameters (and the layers' float16
// copies of them).
func (m *Model) ReleaseBuffers() {
	for _, l := range m.chain {
		l.ReleaseBuffers()
	}
	m.release(&m.xc, &m.dyc, &m.logits)
	m.yType = ops.Invalid
}

var _ nn.Layer = (*Model)(nil)
