package ckpt

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// resnext50 returns the tensor names of resnext50_32x4d in MindCV's convention and in
// torchvision's, built from each convention's naming rules (MINDCV.md) independently of the code
// under test. The torchvision list includes num_batches_tracked.
func resnext50() (mindcv, torch []string) {
	bn := func(prefix string) {
		for _, leaf := range []string{"gamma", "beta", "moving_mean", "moving_variance"} {
			mindcv = append(mindcv, prefix+"."+leaf)
		}
		tp := strings.ReplaceAll(prefix, "down_sample", "downsample")
		for _, leaf := range []string{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"} {
			torch = append(torch, tp+"."+leaf)
		}
	}
	conv := func(name string) {
		mindcv = append(mindcv, name+".weight")
		torch = append(torch, strings.ReplaceAll(name, "down_sample", "downsample")+".weight")
	}
	conv("conv1")
	bn("bn1")
	for stage, blocks := range []int{3, 4, 6, 3} {
		for i := range blocks {
			block := fmt.Sprintf("layer%d.%d", stage+1, i)
			for j := 1; j <= 3; j++ {
				conv(fmt.Sprintf("%s.conv%d", block, j))
				bn(fmt.Sprintf("%s.bn%d", block, j))
			}
			if i == 0 {
				conv(block + ".down_sample.0")
				bn(block + ".down_sample.1")
			}
		}
	}
	mindcv = append(mindcv, "classifier.weight", "classifier.bias")
	torch = append(torch, "fc.weight", "fc.bias")
	return mindcv, torch
}

func TestResNeXt50Names(t *testing.T) {
	mindcv, torch := resnext50()
	// 267 MindCV tensors; torchvision's state dict adds 53 num_batches_tracked: 320 entries.
	if len(mindcv) != 267 || len(torch) != 320 {
		t.Fatalf("%d MindCV names and %d torchvision names, want 267 and 320", len(mindcv), len(torch))
	}
	var torchNoCount []string
	for _, n := range torch {
		if !strings.HasSuffix(n, ".num_batches_tracked") {
			torchNoCount = append(torchNoCount, n)
		}
	}
	if got := TorchNames(mindcv); !slices.Equal(got, torchNoCount) {
		t.Errorf("TorchNames differs:\n%s", diff(got, torchNoCount))
	}
	var got []string
	for _, n := range MindCVNames(torch) {
		if n != "" {
			got = append(got, n)
		}
	}
	if !slices.Equal(got, mindcv) {
		t.Errorf("MindCVNames differs:\n%s", diff(got, mindcv))
	}
	// Round trips.
	if back := MindCVNames(TorchNames(mindcv)); !slices.Equal(back, mindcv) {
		t.Errorf("MindCV -> torchvision -> MindCV differs:\n%s", diff(back, mindcv))
	}
	if back := TorchNames(MindCVNames(torchNoCount)); !slices.Equal(back, torchNoCount) {
		t.Errorf("torchvision -> MindCV -> torchvision differs:\n%s", diff(back, torchNoCount))
	}
	// A single tensor's name maps the same way without its siblings (ResNet's naming rule).
	for i, n := range torchNoCount {
		if got := MindCVNames([]string{n})[0]; got != mindcv[i] {
			t.Errorf("MindCVNames([%q]) = %q, want %q", n, got, mindcv[i])
		}
	}

	for _, tc := range []struct {
		names []string
		want  Naming
	}{
		{mindcv, NamingMindCV},
		{torch, NamingTorch},
		{torchNoCount, NamingTorch},
		{[]string{"conv1.weight", "layer1.0.conv2.weight"}, NamingNeutral},
		{nil, NamingNeutral},
		{[]string{"conv1.weight", "bn1.weight"}, NamingTorch},
		{[]string{"conv1.weight", "layer1.0.down_sample.0.weight"}, NamingMindCV},
		{[]string{"classifier.weight"}, NamingMindCV},
		{[]string{"fc.bias"}, NamingTorch},
	} {
		got, err := DetectNaming(tc.names)
		if err != nil || got != tc.want {
			t.Errorf("DetectNaming(%.60q...) = %v, %v; want %v", tc.names, got, err, tc.want)
		}
	}
	_, err := DetectNaming([]string{"conv1.weight", "bn1.gamma", "layer1.0.bn1.running_mean"})
	if err == nil || !strings.Contains(err.Error(), `MindCV's convention ("bn1.gamma") and torchvision's ("layer1.0.bn1.running_mean")`) {
		t.Errorf("mixed names: err = %v", err)
	}
}

func TestMindCVNamesDetails(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
	}{
		// A DataParallel prefix on every name is removed.
		{[]string{"module.conv1.weight", "module.bn1.weight", "module.fc.bias"}, []string{"conv1.weight", "bn1.gamma", "classifier.bias"}},
		// Not on every name: kept.
		{[]string{"module.conv1.weight", "fc.bias"}, []string{"module.conv1.weight", "classifier.bias"}},
		// A batch norm known by its running statistics, whatever its name.
		{[]string{"norm.weight", "norm.running_var", "head.weight"}, []string{"norm.gamma", "norm.moving_variance", "head.weight"}},
		// fc and downsample only as ResNet has them: a nested fc stays.
		{[]string{"block.fc.weight", "layer1.0.downsample.0.weight"}, []string{"block.fc.weight", "layer1.0.down_sample.0.weight"}},
		{[]string{"bn1.num_batches_tracked"}, []string{""}},
	} {
		if got := MindCVNames(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("MindCVNames(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := TorchNames([]string{"head.classifier.weight", "classifier.bias"}); !slices.Equal(got, []string{"head.classifier.weight", "fc.bias"}) {
		t.Errorf("TorchNames = %q", got)
	}
}

func TestConvertNames(t *testing.T) {
	mindcv, torch := resnext50()
	c := New()
	for _, n := range torch {
		c.Add(Tensor{Name: n, DType: "F32", Shape: []int{}, Data: make([]byte, 4)})
	}
	c.Add(Tensor{Name: "global_step", DType: "I32", Shape: []int{1}, Data: make([]byte, 4)})
	if err := c.ConvertNames(NamingMindCV); err != nil {
		t.Fatal(err)
	}
	if got := names(c.Tensors); !slices.Equal(got, mindcv) {
		t.Errorf("after ConvertNames(mindcv):\n%s", diff(got, mindcv))
	}
	if len(c.Extra) != 1 || c.Extra[0].Name != "global_step" {
		t.Errorf("Extra = %q", names(c.Extra))
	}
	if err := c.ConvertNames(NamingTorch); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Naming(); n != NamingTorch || len(c.Tensors) != 267 {
		t.Errorf("after ConvertNames(torch): naming %v, %d tensors", n, len(c.Tensors))
	}
	// Names of both conventions cannot be converted.
	scalar := func(name string) Tensor {
		return Tensor{Name: name, DType: "F32", Shape: []int{}, Data: make([]byte, 4)}
	}
	d := New(scalar("bn1.weight"), scalar("bn1.running_mean"), scalar("bn2.gamma"))
	if err := d.ConvertNames(NamingMindCV); err == nil || !strings.Contains(err.Error(), "mix") {
		t.Errorf("mixed: err = %v", err)
	}
	if err := d.ConvertNames(NamingNeutral); err == nil {
		t.Errorf("ConvertNames(neutral): no error")
	}
}

// diff lists the first differences between two name lists.
func diff(got, want []string) string {
	var b strings.Builder
	if len(got) != len(want) {
		fmt.Fprintf(&b, "  %d names, want %d\n", len(got), len(want))
	}
	shown := 0
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] && shown < 5 {
			fmt.Fprintf(&b, "  [%d] %q, want %q\n", i, got[i], want[i])
			shown++
		}
	}
	return b.String()
}
