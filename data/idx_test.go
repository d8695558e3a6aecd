package data

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/resnext/resnext/data/internal/alloctest"
)

func idxBytes(dims []int, data []byte) []byte {
	b := []byte{0, 0, 0x08, byte(len(dims))}
	for _, d := range dims {
		b = append(b, byte(d>>24), byte(d>>16), byte(d>>8), byte(d))
	}
	return append(b, data...)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestReadIDX(t *testing.T) {
	raw := idxBytes([]int{2, 2, 3}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	for name, in := range map[string][]byte{"plain": raw, "gzip": gz(raw)} {
		x, err := ReadIDX(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(x.Dims) != 3 || x.Dims[0] != 2 || x.Dims[2] != 3 || x.Data[11] != 12 {
			t.Errorf("%s: got dims %v data %v", name, x.Dims, x.Data)
		}
	}
}

func TestReadIDXErrors(t *testing.T) {
	good := idxBytes([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	cases := map[string]struct {
		in   []byte
		want string
	}{
		"empty":       {nil, "reading the header"},
		"bad magic":   {append([]byte{1, 2}, good[2:]...), "bad magic"},
		"float type":  {append([]byte{0, 0, 0x0d}, good[3:]...), "not supported"},
		"truncated":   {good[:len(good)-2], "truncated"},
		"short dims":  {good[:6], "reading 2 dimensions"},
		"huge dims":   {idxBytes([]int{1 << 30, 1 << 30}, nil), "implausibly large"},
		"zero dims":   {[]byte{0, 0, 8, 0}, "zero dimensions"},
		"broken gzip": {gz(good)[:12], "unexpected EOF"},
	}
	for name, c := range cases {
		_, err := ReadIDX(bytes.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one containing %q", name, err, c.want)
		}
	}
}

func TestLoadMNISTFS(t *testing.T) {
	fsys := fstest.MapFS{
		"d/train-images-idx3-ubyte.gz": {Data: gz(idxBytes([]int{3, 2, 2}, make([]byte, 12)))},
		"d/train-labels-idx1-ubyte":    {Data: idxBytes([]int{3}, []byte{0, 1, 2})},
		"d/t10k-images-idx3-ubyte":     {Data: idxBytes([]int{2, 2, 2}, make([]byte, 8))},
		"d/t10k-labels-idx1-ubyte":     {Data: idxBytes([]int{3}, []byte{0, 1, 2})},
	}
	s, err := LoadMNISTFS(fsys, "d", "train", []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if s.N != 3 || s.H != 2 || s.W != 2 || s.C != 1 || s.Labels[2] != 2 || len(s.Image(1)) != 4 {
		t.Errorf("got %+v", s)
	}
	if _, err := LoadMNISTFS(fsys, "d", "train", []string{"a", "b"}); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("label out of range: got %v", err)
	}
	if _, err := LoadMNISTFS(fsys, "d", "val", nil); err == nil || !strings.Contains(err.Error(), "do not match") {
		t.Errorf("count mismatch: got %v", err)
	}
	if _, err := LoadMNISTFS(fsys, "d", "dev", nil); err == nil || !strings.Contains(err.Error(), "unknown split") {
		t.Errorf("bad split: got %v", err)
	}
	if _, err := LoadMNISTFS(fsys, "missing", "train", nil); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Errorf("missing files: got %v", err)
	}
}

// Headers that ask for more than the file holds, or whose dimensions overflow, fail cleanly and
// cheaply, plain or gzipped; a dimension of 0 is an error, not an empty set.
func TestReadIDXHostileHeaders(t *testing.T) {
	cases := map[string]struct {
		in   []byte
		want string
	}{
		// 3.9 GiB claimed by a 20-byte file: under MaxIDXBytes, so only the data's end stops it.
		"claims 3.9 GiB":      {idxBytes([]int{60000, 256, 256}, make([]byte, 8)), "truncated"},
		"claims 3.9 GiB gzip": {gz(idxBytes([]int{60000, 256, 256}, make([]byte, 8))), "truncated"},
		// The product wraps in 64 bits (it used to panic in make).
		"overflow":      {idxBytes([]int{1<<32 - 1, 1<<32 - 1, 1<<32 - 1}, nil), "implausibly large"},
		"overflow gzip": {gz(idxBytes([]int{1<<32 - 1, 1<<32 - 1}, nil)), "implausibly large"},
		"0 rows":        {idxBytes([]int{0, 28, 28}, nil), "dimension 0 is 0"},
		"0 columns":     {gz(idxBytes([]int{5, 28, 0}, nil)), "dimension 2 is 0"},
	}
	for name, c := range cases {
		var err error
		n := alloctest.Bytes(func() { _, err = ReadIDX(bytes.NewReader(c.in)) })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got error %v, want one containing %q", name, err, c.want)
		}
		if n > 8<<20 {
			t.Errorf("%s: %d bytes allocated", name, n)
		}
	}
}
