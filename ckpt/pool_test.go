package ckpt

import (
	"strings"
	"testing"

	"github.com/resnext/resnext/ckpt/safetensors"
	"github.com/resnext/resnext/nn"
)

func TestPoolPadding(t *testing.T) {
	w := func(name string) Tensor { return safetensors.From(name, []int{1}, []float32{1}) }
	for _, tc := range []struct {
		name   string
		c      *Checkpoint
		meta   string
		style  nn.PoolPadding
		source PoolPaddingSource
	}{
		{"metadata wins over names", New(w("bn1.gamma")), "Symmetric", nn.PoolSymmetric, FromMetadata},
		{"metadata same", New(w("bn1.running_mean")), "same", nn.PoolSame, FromMetadata},
		{"mindcv names", New(w("conv1.weight"), w("bn1.gamma")), "", nn.PoolSame, FromNames},
		{"torchvision names", New(w("conv1.weight"), w("fc.weight")), "", nn.PoolSymmetric, FromNames},
		{"neutral names", New(w("conv1.weight")), "", nn.PoolSame, FromDefault},
	} {
		if tc.meta != "" {
			tc.c.Metadata[MetaPoolPadding] = tc.meta
		}
		got, err := tc.c.PoolPadding()
		if err != nil || got.Style != tc.style || got.Source != tc.source || got.Reason == "" || got.String() != got.Reason {
			t.Errorf("%s: %+v, %v; want %s from %s", tc.name, got, err, tc.style, tc.source)
		}
	}
	bad := New(w("conv1.weight"))
	bad.Metadata[MetaPoolPadding] = "valid"
	if _, err := bad.PoolPadding(); err == nil || !strings.Contains(err.Error(), `metadata pool_padding: max-pool padding "valid"`) {
		t.Errorf("bad metadata: err = %v", err)
	}
	mixed := New(w("bn1.gamma"), w("fc.weight"))
	if _, err := mixed.PoolPadding(); err == nil || !strings.Contains(err.Error(), "mix") {
		t.Errorf("mixed names: err = %v", err)
	}
}
