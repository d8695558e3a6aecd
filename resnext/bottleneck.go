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
// bn1 and bn2 apply their ReLUs in the same kernel (nn.BatchNorm2d.ReLU). The final ReLU and both
// Adds work in place (see nn.ReLU and nn.Add), as in PyTorch: the sum is written over bn3's
// output, which is then the block's output, and the input gradients are summed over the main
// branch's. The final ReLU's gradient goes into bn3's backward kernel (nn.BatchNorm2d.ReLUGrad),
// which writes it over dy, so the caller must pass a dy that nothing else reads afterwards.
//
// The block releases buffers as an nn.Sequential does (see Buffers in package nn): in training,
// Backward gives each layer's buffers back once nothing can read them, keeping the block's output
// and the gradient it returns, and the down-sampling branch's output goes as soon as the sum has
// read it (unless KeepBuffers(true)); in evaluation, Forward gives each layer's buffers back once
// the next has read them.
type Bottleneck struct {
	spec                BlockSpec
	conv1, conv2, conv3 *nn.Conv2d
	bn1, bn2, bn3       *nn.BatchNorm2d
	relu                *nn.ReLU
	main                []nn.Layer     // conv1 .. bn3, the branch ForwardChain and BackwardChain run
	all                 []nn.Layer     // main, relu and downSample: every layer with a mode and tensors
	out                 nn.Layer       // the layer holding the last Forward's output (bn3)
	downSample          *nn.Sequential // nil: the identity
	add, addGrad        *nn.Add
	params              []*nn.Param
	evaluating          bool // set by SetTraining(false): Forward releases the branches' buffers
	keep                bool // set by KeepBuffers(true): Backward releases nothing
}

// NewBottleneck returns a block of the given geometry on b, its batch norms with momentum m (MindCV
// uses nn.MindCVMomentum) and eps 1e-5, its convolution weights zero until initialised
// (nn.HeNormal; Model.Init initialises a whole network).
func NewBottleneck(b ops.Backend, s BlockSpec, m nn.Momentum) *Bottleneck {
	k := &Bottleneck{
		spec:  s,
		conv1: nn.NewConv2d(b, s.In, s.Width, 1, 1, 0, 1),
		bn1:   nn.NewBatchNorm2d(b, s.Width, m),
		conv2: nn.NewConv2d(b, s.Width, s.Width, 3, s.Stride, 1, s.Groups),
		bn2:   nn.NewBatchNorm2d(b, s.Width, m),
		conv3: nn.NewConv2d(b, s.Width, s.Out, 1, 1, 0, 1),
		bn3:   nn.NewBatchNorm2d(b, s.Out, m),
		relu:  nn.NewReLU(b, true),
		add:   nn.NewAdd(b, true), addGrad: nn.NewAdd(b, true),
	}
	k.bn1.ReLU, k.bn2.ReLU = true, true // relu(bn1(...)) and relu(bn2(...)) in one kernel each
	// The final ReLU runs in place over the sum, which is written over bn3's output: its gradient
	// goes into bn3's backward kernel, which writes it over dy for the down-sampling branch too.
	k.bn3.ReLUGrad = true
	k.main = []nn.Layer{k.conv1, k.bn1, k.conv2, k.bn2, k.conv3, k.bn3}
	k.params = slices.Concat(
		nn.Child("conv1", k.conv1), nn.Child("bn1", k.bn1),
		nn.Child("conv2", k.conv2), nn.Child("bn2", k.bn2),
		nn.Child("conv3", k.conv3), nn.Child("bn3", k.bn3))
	if s.DownSample() {
		k.downSample = nn.NewSequential(nn.NewConv2d(b, s.In, s.Out, 1, s.Stride, 0, 1), nn.NewBatchNorm2d(b, s.Out, m))
		k.params = append(k.params, nn.Child("down_sample", k.downSample)...)
	}
	k.all = append(slices.Clip(k.main), k.relu)
	if k.downSample != nil {
		k.all = append(k.all, k.downSample)
	}
	return k
}

// Spec returns the block's geometry.
func (k *Bottleneck) Spec() BlockSpec { return k.spec }

// Forward computes the block's output [N, Out, ceil(H/Stride), ceil(W/Stride)] from x [N, In, H, W].
// x must stay unchanged until Backward.
func (k *Bottleneck) Forward(x ops.Tensor) ops.Tensor {
	out, holder := nn.ForwardChain(k.main, x, k.evaluating)
	identity := x
	if k.downSample != nil {
		identity = k.downSample.Forward(x)
	}
	// The sum goes over the main branch's output: bn3's Backward reads its input, not its output.
	y := k.relu.Forward(k.add.Forward(out, identity))
	k.out = holder
	if k.downSample != nil {
		switch {
		case k.evaluating:
			k.downSample.ReleaseBuffers() // the sum has read its output
		case !k.keep:
			k.downSample.ReleaseOutput() // the sum has read it, and the branch's Backward does not
		}
	}
	return y
}

// Backward writes the parameter gradients and returns the input gradient. The gradient of the final
// ReLU (written over dy) is the gradient of the sum, so it reaches both branches unchanged, and the
// two input gradients they return are added, over the main branch's.
func (k *Bottleneck) Backward(dy ops.Tensor) ops.Tensor {
	// bn3, the chain's last layer, first writes the gradient of the final ReLU over dy (ReLUGrad).
	d := nn.BackwardChain(k.main, dy, !k.keep, k.out)
	identity := dy
	if k.downSample != nil {
		identity = k.downSample.Backward(dy)
	}
	d = k.addGrad.Forward(d, identity)
	if !k.keep && k.downSample != nil {
		k.downSample.ReleaseBuffers() // the sum has read its input gradient
	}
	return d
}

// Params returns the block's parameters with MindCV's names relative to the block.
func (k *Bottleneck) Params() []*nn.Param { return k.params }

// SetTraining switches the batch norms between batch statistics (training) and the moving ones.
func (k *Bottleneck) SetTraining(training bool) {
	k.evaluating = !training
	for _, l := range k.all {
		l.SetTraining(training)
	}
}

// KeepBuffers sets whether training keeps every buffer of the block (see nn.BufferKeeper).
func (k *Bottleneck) KeepBuffers(keep bool) {
	k.keep = keep
	for _, l := range k.all {
		nn.SetKeepBuffers(l, keep)
	}
}

// Free releases the block's parameters and buffers.
func (k *Bottleneck) Free() {
	for _, l := range k.all {
		l.Free()
	}
	k.add.Free()
	k.addGrad.Free()
}

// ReleaseBackward gives back every buffer of the block but its output (see nn.Layer).
func (k *Bottleneck) ReleaseBackward() {
	nn.ReleaseBackwardChain(k.all, k.out)
	k.addGrad.ReleaseBuffers()
}

// ReleaseBuffers gives back every buffer of the block, keeping its parameters.
func (k *Bottleneck) ReleaseBuffers() {
	for _, l := range k.all {
		l.ReleaseBuffers()
	}
	k.add.ReleaseBuffers()
	k.addGrad.ReleaseBuffers()
}

var _ nn.Layer = (*Bottleneck)(nil)
