package ckpt

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resnext/resnext/ckpt/mindspore"
	"github.com/resnext/resnext/ckpt/safetensors"
	"github.com/resnext/resnext/nn"
)

// files writes a small checkpoint in each writable format and returns the bytes of each.
func files(t *testing.T) (ckptBytes, stBytes []byte) {
	t.Helper()
	one := safetensors.From("conv1.weight", []int{1}, []float32{1})
	var err error
	if ckptBytes, err = (&mindspore.File{Tensors: []Tensor{one}}).Encode(mindspore.Options{}); err != nil {
		t.Fatal(err)
	}
	if stBytes, err = (&safetensors.File{Tensors: map[string]Tensor{one.Name: one}}).Encode(); err != nil {
		t.Fatal(err)
	}
	return ckptBytes, stBytes
}

func TestSniff(t *testing.T) {
	ck, st := files(t)
	for _, tc := range []struct {
		name string
		head []byte
		want Format
	}{
		{"mindspore", ck, MindSpore},
		{"safetensors", st, SafeTensors},
		{"zip", []byte("PK\x03\x04\x00\x00"), PyTorch},
		{"pickle", []byte{0x80, 0x02, 0x8a, 0x0a}, PyTorch},
		{"text", []byte("hello"), ""},
		{"empty", nil, ""},
		{"protobuf of another kind", []byte{0x0a, 0x02, 0x08, 0x01}, ""},
	} {
		got, ok := Sniff(tc.head)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("Sniff(%s) = %q, %v; want %q", tc.name, got, ok, tc.want)
		}
	}
	for path, want := range map[string]Format{"a.ckpt": MindSpore, "b.SafeTensors": SafeTensors, "x/c.pth": PyTorch, "d.pt": PyTorch, "pytorch_model.bin": PyTorch} {
		if got, ok := FormatOf(path); !ok || got != want {
			t.Errorf("FormatOf(%s) = %q, want %q", path, got, want)
		}
	}
	if _, ok := FormatOf("e.npz"); ok {
		t.Errorf("FormatOf(e.npz): ok")
	}
}

func TestReadFormatErrors(t *testing.T) {
	ck, st := files(t)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tc := range []struct {
		name, file string
		data       []byte
		want       string // "" reads fine
	}{
		{"safetensors named .ckpt", "st.ckpt", st, "the extension .ckpt says MindSpore, but the content is a safetensors file: rename it to " + filepath.Join(dir, "st.safetensors")},
		{"ckpt named .safetensors", "ck.safetensors", ck, "the extension .safetensors says safetensors, but the content is a MindSpore file: rename it to " + filepath.Join(dir, "ck.ckpt")},
		{"zip named .ckpt", "lightning.ckpt", []byte("PK\x03\x04rest"), "the content is a PyTorch file (PyTorch Lightning names its checkpoints .ckpt)"},
		{"garbage .ckpt", "garbage.ckpt", []byte("hello, world"), "not a MindSpore checkpoint"},
		{"empty .ckpt", "empty.ckpt", nil, "empty file"},
		{"truncated .ckpt", "cut.ckpt", ck[:len(ck)-2], `truncated: tag "conv1.weight"`},
		{"garbage .safetensors", "garbage.safetensors", []byte("hello, world"), "safetensors"},
		{"unknown extension, known content", "weights.data", ck, ""},
		{"unknown extension and content", "weights.data2", []byte("hello, world"), `unknown checkpoint format: the extension ".data2" is not .ckpt, .safetensors, .pth, .pt or .bin`},
		{"unknown extension, empty", "weights.x", nil, "empty file"},
		{"no extension", "weights", []byte("hello"), "the name has no extension"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(tc.file, tc.data)
			c, err := Read(path)
			if tc.want == "" {
				if err != nil || len(c.Tensors) != 1 {
					t.Fatalf("Read: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Read succeeded, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) || strings.Count(err.Error(), path) != 1 {
				t.Errorf("err = %q, want one naming %s once and containing %q", err, path, tc.want)
			}
		})
	}
	if _, err := Read(filepath.Join(dir, "missing.ckpt")); err == nil {
		t.Errorf("Read of a missing file: no error")
	}
}

func TestMetadataInCkpt(t *testing.T) {
	c := New(safetensors.From("conv1.weight", []int{2}, []float32{1, 2}), safetensors.From("global_step", []int{1}, []int32{3}))
	c.SetPoolPadding(nn.PoolSymmetric)
	c.Metadata["note"] = "fine-tuned from torchvision"
	path := filepath.Join(t.TempDir(), "m.ckpt")
	if err := c.Write(path); err != nil {
		t.Fatal(err)
	}
	// The metadata are string entries of the .ckpt.
	f, err := mindspore.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Strings[MetaPoolPadding] != "symmetric" || f.Strings["note"] != "fine-tuned from torchvision" {
		t.Errorf("string entries %v", f.Strings)
	}
	r, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Metadata[MetaPoolPadding] != "symmetric" || len(r.Metadata) != 2 || !slices.Equal(names(r.Extra), []string{"global_step"}) {
		t.Errorf("metadata %v, extra %q", r.Metadata, names(r.Extra))
	}
}

// TestReadPyTorch reads a torchvision-style state dict written by PyTorch (the fixture of
// ckpt/torch) through Read, and loads its names as MindCV's.
func TestReadPyTorch(t *testing.T) {
	path := filepath.Join("torch", "testdata", "resnext.pth")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no PyTorch fixture: %v", err)
	}
	c, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Format != PyTorch {
		t.Errorf("format %q", c.Format)
	}
	if n, err := c.Naming(); err != nil || n != NamingTorch {
		t.Errorf("naming %v, %v", n, err)
	}
	if pp, err := c.PoolPadding(); err != nil || pp.Style != nn.PoolSymmetric || pp.Source != FromNames {
		t.Errorf("PoolPadding = %+v, %v", pp, err)
	}
	if err := c.ConvertNames(NamingMindCV); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"conv1.weight", "bn1.gamma", "bn1.moving_variance", "layer1.0.down_sample.1.beta", "classifier.weight"} {
		if _, ok := c.Tensor(name); !ok {
			t.Errorf("no %s after conversion; tensors %q", name, names(c.Tensors))
		}
	}
	for _, x := range c.Tensors {
		if strings.Contains(x.Name, "num_batches_tracked") {
			t.Errorf("%s kept", x.Name)
		}
	}
}
