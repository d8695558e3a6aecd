package npy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/resnext/resnext/data/internal/alloctest"
)

// The files in testdata were written by numpy.save.
func TestReadNumpyFiles(t *testing.T) {
	a, err := Read(filepath.Join("testdata", "f4.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if a.DType != "<f4" || len(a.Shape) != 2 || a.Shape[0] != 2 || a.Shape[1] != 3 {
		t.Fatalf("got %s %v", a.DType, a.Shape)
	}
	for i, v := range a.Float32() {
		if v != float32(i)-2.5 {
			t.Errorf("element %d = %v, want %v", i, v, float32(i)-2.5)
		}
	}
	i8, err := Read(filepath.Join("testdata", "i8.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if got := i8.Float32(); len(got) != 3 || got[1] != -2 || got[2] != 1<<40 {
		t.Errorf("int64: got %v", got)
	}
	s, err := Read(filepath.Join("testdata", "u1_scalar.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Shape) != 0 || s.Numel() != 1 || s.Float32()[0] != 7 {
		t.Errorf("scalar: got shape %v values %v", s.Shape, s.Float32())
	}
	e, err := Read(filepath.Join("testdata", "f8_empty.npy"))
	if err != nil || e.Numel() != 0 || len(e.Shape) != 2 || e.Shape[1] != 4 {
		t.Errorf("empty: got %v, %v", e, err)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, shape := range [][]int{{2, 3}, {5}, {}, {1, 3, 2, 2}} {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(i) * 0.5
		}
		a, err := FromFloat32(shape, v)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := a.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		if head := buf.Len() - len(a.Data); head%64 != 0 {
			t.Errorf("shape %v: data starts at %d, want a multiple of 64", shape, head)
		}
		b, err := Decode(&buf)
		if err != nil {
			t.Fatalf("shape %v: %v", shape, err)
		}
		if len(b.Shape) != len(shape) || !bytes.Equal(a.Data, b.Data) {
			t.Errorf("shape %v: got %v", shape, b.Shape)
		}
	}
	path := filepath.Join(t.TempDir(), "x.npy")
	a, _ := FromFloat32([]int{2}, []float32{1, 2})
	if err := a.Write(path); err != nil {
		t.Fatal(err)
	}
	if b, err := Read(path); err != nil || b.Float32()[1] != 2 {
		t.Errorf("read back: %v, %v", b, err)
	}
	if _, err := FromFloat32([]int{3}, []float32{1}); err == nil {
		t.Error("FromFloat32 accepted 1 value for shape [3]")
	}
}

func TestErrors(t *testing.T) {
	good := func() []byte {
		a, _ := FromFloat32([]int{2, 2}, []float32{1, 2, 3, 4})
		var buf bytes.Buffer
		a.Encode(&buf)
		return buf.Bytes()
	}()
	cases := map[string]struct {
		in   []byte
		want string
	}{
		"empty":     {nil, "reading the magic"},
		"not npy":   {[]byte("PK\x03\x04 zip file..."), "not a .npy file"},
		"truncated": {good[:len(good)-3], "truncated"},
		"version":   {append(append([]byte{}, good[:6]...), append([]byte{9, 0}, good[8:]...)...), "version 9.0"},
		"header":    {append(append([]byte{}, good[:10]...), bytes.Repeat([]byte{'x'}, 118)...), "cannot parse the header"},
	}
	for name, c := range cases {
		if _, err := Decode(bytes.NewReader(c.in)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, c.want)
		}
	}
	for file, want := range map[string]string{"fortran.npy": "Fortran-order", "f2.npy": "not supported"} {
		if _, err := Read(filepath.Join("testdata", file)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", file, err, want)
		}
	}
}

// FuzzDecode decodes arbitrary data: no panic, data of the size the shape says, and memory of
// about the input's size whatever the header claims.
func FuzzDecode(f *testing.F) {
	a, _ := FromFloat32([]int{2, 2}, []float32{1, 2, 3, 4})
	var buf bytes.Buffer
	a.Encode(&buf)
	f.Add(buf.Bytes())
	files, _ := filepath.Glob(filepath.Join("testdata", "*.npy"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add(buf.Bytes()[:buf.Len()-3])
	f.Add([]byte("\x93NUMPY\x01\x00\x76\x00{'descr': '<f8', 'fortran_order': False, 'shape': (1000, 1000, 2000), }"))
	f.Add([]byte("\x93NUMPY\x02\x00\xff\xff\xff\x7f{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Decode(bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(a.Data) != a.Numel()*dtypeSizes[a.DType] {
			t.Fatalf("shape %v of %s with %d bytes", a.Shape, a.DType, len(a.Data))
		}
		a.Float32()
	})
}

// A header that asks for more than the file holds fails cheaply; one whose shape overflows, or
// asks for more than MaxBytes, fails before reading.
func TestDecodeHostileHeaders(t *testing.T) {
	header := func(shape string) []byte {
		h := fmt.Sprintf("{'descr': '<f8', 'fortran_order': False, 'shape': (%s), }", shape)
		h += strings.Repeat(" ", 117-len(h)) + "\n"
		return append([]byte("\x93NUMPY\x01\x00\x76\x00"), h...)
	}
	cases := map[string]struct {
		in   []byte
		want string
	}{
		// The reporter's 128-byte file asking for 16 GiB minus a little.
		"claims 15.9 GiB":  {header("1000, 1000, 2000"), "truncated"},
		"overflows":        {header("4294967296, 4294967296, 4294967296"), "npy.MaxBytes"},
		"above MaxBytes":   {header("100000, 100000, 1000"), "npy.MaxBytes"},
		"negative product": {header("3037000500, 3037000500"), "npy.MaxBytes"},
	}
	for name, c := range cases {
		if len(c.in) != 128 {
			t.Fatalf("%s: %d bytes", name, len(c.in))
		}
		var err error
		n := alloctest.Bytes(func() { _, err = Decode(bytes.NewReader(c.in)) })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, c.want)
		}
		if n > 8<<20 {
			t.Errorf("%s: %d bytes allocated", name, n)
		}
	}
}
