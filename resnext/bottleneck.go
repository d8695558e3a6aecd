package resnext

import (
	"slices"

	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// Bottleneck is the residual block of ResNeXt (MindCV's and torchvision's Bottleneck):
//
//	y = relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + down_sample(x))
//
// conv1 and conv3 are 1x1 convolutions, conv2 is the grouped 3x3 one and carries the block's
// stride, and down_sample (a strided 1x1 convolution and a batch norm) replaces the identity when
// the stride or the channels change. No convolution has a bias. The parameters carry MindCV's
// names, in its order: conv1.weight, bn1.{gamma,beta,moving_mean,moving_variance}, conv2.weight,
// bn2.*, conv3.weight, bn3.*, down_sample.0.weight, down_sample.1.*.
//
// The ReLUs work in place (see nn.ReLU): the block's output is the buffer of its sum, and Backward
// writes the gradient of its final ReLU over dy, so the caller must pass a dy that nothing else
// reads afterwards.
type Bottleneck struct {
	spec                BlockSpec
	conv1, conv2, conv3 *nn.Conv2d
	bn1, bn2, bn3       *nn.BatchNorm2d
	relu1, relu2, relu  *nn.ReLU
	downSample          *nn.Sequential // nil: the identity
	add, addGrad        *nn.Add
	params              []*nn.Param
	evaluating          bool // set by SetTraining(false): Forward releases the branches' buffers
}

// NewBottleneck returns a block of the given geometry on b, its batch norms with momentum m (MindCV
// uses nn.MindCVMomentum) and eps 1e-5, its convolution weights zero until initialised
// (nn.HeNormal; Model.Init initialises a whole network).
func NewBottleneck(b ops.Backend, s BlockSpec, m nn.Momentum) *Bottleneck {
	k := &Bottleneck{
		spec:  s,
		conv1: nn.NewConv2d(b, s.In, s.Width, 1, 1, 0, 1),
		bn1:   nn.NewBatchNorm2d(b, s.Width, m),
		relu1: nn.NewReLU(b, true),
		conv2: nn.NewConv2d(b, s.Width, s.Width, 3, s.Stride, 1, s.Groups),
		bn2:   nn.NewBatchNorm2d(b, s.Width, m),
		relu2: nn.NewReLU(b, true),
		conv3: nn.NewConv2d(b, s.Width, s.Out, 1, 1, 0, 1),
		bn3:   nn.NewBatchNorm2d(b, s.Out, m),
		relu:  nn.NewReLU(b, true),
		add:   nn.NewAdd(b), addGrad: nn.NewAdd(b),
	}
	k.params = slices.Concat(
		nn.Child("conv1", k.conv1), nn.Child("bn1", k.bn1),
		nn.Child("conv2", k.conv2), nn.Child("bn2", k.bn2),
		nn.Child("conv3", k.conv3), nn.Child("bn3", k.bn3))
	if s.DownSample() {
		k.downSample = nn.NewSequential(nn.NewConv2d(b, s.In, s.Out, 1, s.Stride, 0, 1), nn.NewBatchNorm2d(b, s.Out, m))
		k.params = append(k.params, nn.Child("down_sample", k.downSample)...)
	}
	return k
}

// Spec returns the block's geometry.
func (k *Bottleneck) Spec() BlockSpec { return k.spec }

// Forward computes the block's output [N, Out, ceil(H/Stride), ceil(W/Stride)] from x [N, In, H, W].
// x must stay unchanged until Backward.
func (k *Bottleneck) Forward(x ops.Tensor) ops.Tensor {
	out := k.relu1.Forward(k.bn1.Forward(k.conv1.Forward(x)))
	out = k.relu2.Forward(k.bn2.Forward(k.conv2.Forward(out)))
	out = k.bn3.Forward(k.conv3.Forward(out))
	identity := x
	if k.downSample != nil {
		identity = k.downSample.Forward(x)
	}
	y := k.relu.Forward(k.add.Forward(out, identity))
	if k.evaluating {
		// Nothing will call Backward: everything but the sum (which y is) can go back now.
		for _, l := range k.layers() {
			if l != nn.Layer(k.relu) {
				l.ReleaseBuffers()
			}
		}
	}
	return y
}

// Backward writes the parameter gradients and returns the input gradient. The gradient of the final
// ReLU (written over dy) is the gradient of the sum, so it reaches both branches unchanged, and the
// two input gradients they return are added.
func (k *Bottleneck) Backward(dy ops.Tensor) ops.Tensor {
	dy = k.relu.Backward(dy)
	d := k.conv3.Backward(k.bn3.Backward(dy))
	d = k.conv2.Backward(k.bn2.Backward(k.relu2.Backward(d)))
	d = k.conv1.Backward(k.bn1.Backward(k.relu1.Backward(d)))
	identity := dy
	if k.downSample != nil {
		identity = k.downSample.Backward(dy)
	}
	return k.addGrad.Forward(d, identity)
}

// Params returns the block's parameters with MindCV's names relative to the block.
func (k *Bottleneck) Params() []*nn.Param { return k.params }

// layers lists the block's layers that have a mode and tensors.
func (k *Bottleneck) layers() []nn.Layer {
	ls := []nn.Layer{k.conv1, k.bn1, k.relu1, k.conv2, k.bn2, k.relu2, k.conv3, k.bn3, k.relu}
	if k.downSample != nil {
		ls = append(ls, k.downSample)
	}
	return ls
}

// SetTraining switches the batch norms between batch statistics (training) and the moving ones.
func (k *Bottleneck) SetTraining(training bool) {
	k.evaluating = !training
	for _, l := range k.layers() {
		l.SetTraining(training)
	}
}

// Free releases the block's parameters and buffers.
func (k *Bottleneck) Free() {
	for _, l := range k.layers() {
		l.Free()
	}
	k.add.Free()
	k.addGrad.Free()
}

// ReleaseBuffers gives back every buffer of the block, keeping its parameters.
func (k *Bottleneck) ReleaseBuffers() {
	for _, l := range k.layers() {
		l.ReleaseBuffers()
	}
	k.add.ReleaseBuffers()
	k.addGrad.ReleaseBuffers()
}

var _ nn.Layer = (*Bottleneck)(nil)
