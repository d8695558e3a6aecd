package nn_test

import (
	"slices"
	"strconv"
	"testing"

	"github.com/resnext/resnext/ckpt/safetensors"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// bottleneck is the ResNeXt block composed from nn layers, as package resnext builds it:
// relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))) + down_sample(x)), the stride and the groups
// on the 3x3 convolution, down_sample a strided 1x1 convolution and a batch norm (or the identity).
type bottleneck struct {
	conv1, conv2, conv3 *nn.Conv2d
	bn1, bn2, bn3       *nn.BatchNorm2d
	relu1, relu2, relu  *nn.ReLU
	downSample          *nn.Sequential // nil: the identity
	add, addGrad        *nn.Add
	params              []*nn.Param
}

func newBottleneck(b ops.Backend, in, width, out, groups, stride int, m nn.Momentum) *bottleneck {
	k := &bottleneck{
		conv1: nn.NewConv2d(b, in, width, 1, 1, 0, 1),
		bn1:   nn.NewBatchNorm2d(b, width, m),
		relu1: nn.NewReLU(b, true),
		conv2: nn.NewConv2d(b, width, width, 3, stride, 1, groups),
		bn2:   nn.NewBatchNorm2d(b, width, m),
		relu2: nn.NewReLU(b, true),
		conv3: nn.NewConv2d(b, width, out, 1, 1, 0, 1),
		bn3:   nn.NewBatchNorm2d(b, out, m),
		relu:  nn.NewReLU(b, false),
		add:   nn.NewAdd(b), addGrad: nn.NewAdd(b),
	}
	k.params = slices.Concat(
		nn.Child("conv1", k.conv1), nn.Child("bn1", k.bn1),
		nn.Child("conv2", k.conv2), nn.Child("bn2", k.bn2),
		nn.Child("conv3", k.conv3), nn.Child("bn3", k.bn3))
	if stride != 1 || in != out {
		k.downSample = nn.NewSequential(nn.NewConv2d(b, in, out, 1, stride, 0, 1), nn.NewBatchNorm2d(b, out, m))
		k.params = append(k.params, nn.Child("down_sample", k.downSample)...)
	}
	return k
}

func (k *bottleneck) Forward(x ops.Tensor) ops.Tensor {
	out := k.relu1.Forward(k.bn1.Forward(k.conv1.Forward(x)))
	out = k.relu2.Forward(k.bn2.Forward(k.conv2.Forward(out)))
	out = k.bn3.Forward(k.conv3.Forward(out))
	identity := x
	if k.downSample != nil {
		identity = k.downSample.Forward(x)
	}
	return k.relu.Forward(k.add.Forward(out, identity))
}

// Backward sends the gradient of the sum to both branches and adds their input gradients.
func (k *bottleneck) Backward(dy ops.Tensor) ops.Tensor {
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

func (k *bottleneck) Params() []*nn.Param { return k.params }

func (k *bottleneck) layers() []nn.Layer {
	ls := []nn.Layer{k.conv1, k.bn1, k.relu1, k.conv2, k.bn2, k.relu2, k.conv3, k.bn3, k.relu}
	if k.downSample != nil {
		ls = append(ls, k.downSample)
	}
	return ls
}

func (k *bottleneck) SetTraining(training bool) {
	for _, l := range k.layers() {
		l.SetTraining(training)
	}
}

func (k *bottleneck) Free() {
	for _, l := range k.layers() {
		l.Free()
	}
	k.add.Free()
	k.addGrad.Free()
}

const fixture = "testdata/bottleneck.safetensors"

// TestBottleneckFixture runs a ResNeXt bottleneck (stride 2, 32 groups, with down_sample) forward
// in training mode and backward, and compares the output, the input gradient, every parameter
// gradient and the updated moving statistics with PyTorch's (scripts/gen_fixtures.py).
func TestBottleneckFixture(t *testing.T) {
	f, err := safetensors.Read(fixture)
	if err != nil {
		t.Fatalf("%v (regenerate it with scripts/gen_fixtures.py)", err)
	}
	meta := func(key string) float64 {
		v, err := strconv.ParseFloat(f.Metadata[key], 64)
		if err != nil {
			t.Fatalf("metadata %q: %v", key, err)
		}
		return v
	}
	host := func(name string) ([]float32, ops.Shape) {
		ts, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		v, err := ts.Float32()
		if err != nil {
			t.Fatal(err)
		}
		return v, ops.Shape(ts.Shape)
	}

	b := newBackend(t)
	in, width, out := int(meta("in_channels")), int(meta("width")), int(meta("out_channels"))
	block := newBottleneck(b, in, width, out, int(meta("groups")), int(meta("stride")), nn.TorchMomentum(meta("momentum")))
	defer block.Free()
	for _, p := range block.Params() {
		v, shape := host(p.Name)
		if !shape.Equal(p.Value.Shape()) {
			t.Fatalf("%s: fixture shape %v, layer shape %v", p.Name, shape, p.Value.Shape())
		}
		b.Write(p.Value, ops.Bytes(v))
	}
	for _, bn := range []*nn.BatchNorm2d{block.bn1, block.bn2, block.bn3} {
		bn.Eps = meta("eps")
	}
	block.downSample.Layers()[1].Layer.(*nn.BatchNorm2d).Eps = meta("eps")

	xv, xs := host("x")
	x := upload(b, xs, xv)
	defer b.Free(x)
	dyv, dys := host("dy")
	dy := upload(b, dys, dyv)
	defer b.Free(dy)

	y := block.Forward(x)
	yWant, _ := host("y")
	assertClose(t, "y", download(t, b, y), yWant, 1e-4)
	dxWant, _ := host("dx")
	assertClose(t, "dx", download(t, b, block.Backward(dy)), dxWant, 1e-4)
	for _, p := range block.Params() {
		key := "grad/" + p.Name
		if !p.Trainable {
			key = "after/" + p.Name
		}
		want, _ := host(key)
		got := p.Grad
		if !p.Trainable {
			got = p.Value
		}
		assertClose(t, key, download(t, b, got), want, 1e-4)
	}
}
