package resnext

import (
	"strconv"
	"testing"

	"github.com/resnext/resnext/ckpt/safetensors"
	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

const fixture = "testdata/bottleneck.safetensors"

// TestBottleneckFixture runs a Bottleneck (stride 2, 32 groups of 4 channels, with down_sample, an
// odd input size) forward in training mode and backward, and compares the output, the input
// gradient, every parameter gradient and the updated moving statistics with PyTorch's
// (scripts/gen_fixtures.py). The output stays valid after Backward, which releases the rest.
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

	b := testutil.CPU(t, 2)
	spec := BlockSpec{In: int(meta("in_channels")), Out: int(meta("out_channels")), Width: int(meta("width")),
		Stride: int(meta("stride")), Groups: int(meta("groups"))}
	if !spec.DownSample() {
		t.Fatalf("fixture block %+v has no down_sample branch: the test wants one", spec)
	}
	block := NewBottleneck(b, spec, nn.TorchMomentum(meta("momentum")))
	defer block.Free()
	for _, p := range block.Params() {
		v, shape := testutil.Fixture(t, f, p.Name)
		if !shape.Equal(p.Value.Shape()) {
			t.Fatalf("%s: fixture shape %v, block shape %v", p.Name, shape, p.Value.Shape())
		}
		b.Write(p.Value, ops.Bytes(v))
	}
	for _, bn := range []*nn.BatchNorm2d{block.bn1, block.bn2, block.bn3, block.downSample.Layers()[1].Layer.(*nn.BatchNorm2d)} {
		bn.Eps = meta("eps")
	}

	xv, xs := testutil.Fixture(t, f, "x")
	x := testutil.Upload(b, xs, xv)
	defer b.Free(x)
	dyv, dys := testutil.Fixture(t, f, "dy")
	dy := testutil.Upload(b, dys, dyv)
	defer b.Free(dy)

	yWant, _ := testutil.Fixture(t, f, "y")
	y := block.Forward(x)
	testutil.AssertClose(t, "y", testutil.Download(t, b, y), yWant, 1e-4)
	dxWant, _ := testutil.Fixture(t, f, "dx")
	testutil.AssertClose(t, "dx", testutil.Download(t, b, block.Backward(dy)), dxWant, 1e-4)
	testutil.AssertClose(t, "y after Backward", testutil.Download(t, b, y), yWant, 1e-4)
	checked := 0
	for _, p := range block.Params() {
		key, got := "grad/"+p.Name, p.Grad
		if !p.Trainable {
			key, got = "after/"+p.Name, p.Value
		}
		want, _ := testutil.Fixture(t, f, key)
		testutil.AssertClose(t, key, testutil.Download(t, b, got), want, 1e-4)
		checked++
	}
	if checked != 4*1+4*4 {
		t.Errorf("checked %d parameters, want 20 (4 convolutions, 4 batch norms)", checked)
	}
}
