package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resnext/resnext/ckpt/internal/fuzzcheck"
)

func sample(t *testing.T) *File {
	t.Helper()
	f := New()
	f.Metadata["format"] = "pt"
	f.Metadata["note"] = `quotes " and unicode é`
	for _, x := range []Tensor{
		From("conv1.weight", []int{2, 1, 2, 2}, []float32{1, -2, 3.5, 0, 1e-30, -1e30, float32(math.Inf(1)), 7}),
		From("labels", []int{3}, []int32{0, -7, math.MaxInt32}),
		From("global_step", []int{1}, []int64{1 << 40}),
		From("lr", []int{2}, []float64{0.1, math.Pi}),
		From("scalar", []int{}, []float32{42}),
		From[float32]("empty", []int{0, 3}, nil),
		{Name: "half", DType: F16, Shape: []int{3}, Data: []byte{0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00}},
		{Name: "flags", DType: BOOL, Shape: []int{3}, Data: []byte{1, 0, 1}},
	} {
		if err := f.Add(x); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func TestRoundTrip(t *testing.T) {
	f := sample(t)
	path := filepath.Join(t.TempDir(), "rt.safetensors")
	if err := f.Write(path); err != nil {
		t.Fatal(err)
	}
	g, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Metadata) != len(f.Metadata) || g.Metadata["note"] != f.Metadata["note"] {
		t.Errorf("metadata = %v, want %v", g.Metadata, f.Metadata)
	}
	if !slices.Equal(g.Names(), f.Names()) {
		t.Fatalf("names = %v, want %v", g.Names(), f.Names())
	}
	for _, name := range f.Names() {
		a, b := f.Tensors[name], g.Tensors[name]
		if a.DType != b.DType || !slices.Equal(a.Shape, b.Shape) || !bytes.Equal(a.Data, b.Data) || b.Name != name {
			t.Errorf("tensor %q: got %s %v %x, want %s %v %x", name, b.DType, b.Shape, b.Data, a.DType, a.Shape, a.Data)
		}
	}
	// Encoding is deterministic and a decode/encode cycle reproduces the bytes.
	raw, _ := os.ReadFile(path)
	again, err := g.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, again) {
		t.Errorf("re-encoding changed the bytes")
	}
	// No temporary file is left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after Write, want 1", len(entries))
	}

	v, err := g.Tensors["conv1.weight"].Float32()
	if err != nil || v[2] != 3.5 || !math.IsInf(float64(v[6]), 1) {
		t.Errorf("Float32 = %v, %v", v, err)
	}
	h, err := g.Tensors["half"].Float32()
	if err != nil || h[0] != 1 || h[1] != -2 || h[2] != float32(math.Ldexp(1, -24)) {
		t.Errorf("F16 Float32 = %v, %v", h, err)
	}
	l, err := g.Tensors["labels"].Int32()
	if err != nil || !slices.Equal(l, []int32{0, -7, math.MaxInt32}) {
		t.Errorf("Int32 = %v, %v", l, err)
	}
	if _, err := g.Tensors["global_step"].Int32(); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("Int32 of 2^40: err = %v, want an overflow error", err)
	}
	if _, err := g.Tensors["labels"].Float32(); err == nil {
		t.Errorf("Float32 of an I32 tensor: no error")
	}
	s, _ := g.Tensor("scalar")
	if s.Numel() != 1 || len(s.Shape) != 0 {
		t.Errorf("scalar: shape %v", s.Shape)
	}
	if _, err := g.Tensor("missing"); err == nil || !strings.Contains(err.Error(), `"missing"`) {
		t.Errorf("Tensor(missing): err = %v", err)
	}
}

func TestLayout(t *testing.T) {
	raw, err := sample(t).Encode()
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw)
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	hdr := string(raw[8 : 8+n])
	if !strings.HasPrefix(hdr, `{"__metadata__":{`) {
		t.Errorf("header does not start with the metadata: %s", hdr)
	}
	var entries map[string]struct {
		DType   string   `json:"dtype"`
		Offsets []uint64 `json:"data_offsets"`
	}
	if err := json.Unmarshal([]byte(hdr), &entries); err != nil {
		t.Fatal(err)
	}
	// Larger elements first, names sorted within a size, each tensor aligned to its element size.
	order := []string{"global_step", "lr", "conv1.weight", "empty", "labels", "scalar", "half", "flags"}
	var pos uint64
	for _, name := range order {
		e := entries[name]
		if e.Offsets[0] != pos {
			t.Errorf("tensor %q starts at %d, want %d (order %v)", name, e.Offsets[0], pos, order)
		}
		if (8+n+e.Offsets[0])%uint64(DTypeSize(e.DType)) != 0 {
			t.Errorf("tensor %q (%s) at file offset %d is not aligned", name, e.DType, 8+n+e.Offsets[0])
		}
		pos = e.Offsets[1]
	}
}

func TestWriteChecks(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		f    *File
		want string
	}{
		{"bad dtype", &File{Tensors: map[string]Tensor{"a": {DType: "F17", Shape: []int{1}, Data: []byte{0}}}}, "unknown dtype"},
		{"short data", &File{Tensors: map[string]Tensor{"a": {DType: F32, Shape: []int{2}, Data: []byte{0, 0, 0, 0}}}}, "want 8"},
		{"name mismatch", &File{Tensors: map[string]Tensor{"a": {Name: "b", DType: U8, Shape: []int{1}, Data: []byte{0}}}}, "named"},
		{"reserved", &File{Tensors: map[string]Tensor{MetadataKey: {DType: U8, Shape: []int{1}, Data: []byte{0}}}}, "reserved"},
		{"negative", &File{Tensors: map[string]Tensor{"a": {DType: U8, Shape: []int{-1}}}}, "negative"},
	} {
		path := filepath.Join(dir, "x.safetensors")
		err := tc.f.Write(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.want)
		}
		if _, serr := os.Stat(path); serr == nil {
			t.Errorf("%s: a file was written despite the error", tc.name)
		}
	}
	if err := New().Write(filepath.Join(dir, "missing", "x.safetensors")); err == nil {
		t.Errorf("write into a missing directory: no error")
	}
}

// file builds a raw safetensors file from a header string and a data section.
func file(header string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func TestCorrupt(t *testing.T) {
	good, err := sample(t).Encode()
	if err != nil {
		t.Fatal(err)
	}
	hugeHeader := make([]byte, 16)
	binary.LittleEndian.PutUint64(hugeHeader, 1<<62)
	pastEnd := make([]byte, 16)
	binary.LittleEndian.PutUint64(pastEnd, 9)
	copy(pastEnd[8:], "{}")

	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"short length", []byte{1, 2, 3}, "truncated"},
		{"truncated data", good[:len(good)-3], "out of range"},
		{"truncated header", good[:40], "truncated: header length"},
		{"huge header length", hugeHeader, "bad header length"},
		{"header past end", pastEnd, "truncated: header length 9"},
		{"zero header length", file("", nil), "bad header length 0"},
		{"not an object", file(`[1, 2, 3]   `, nil), "does not start with '{'"},
		{"bad json", file(`{"a": {"dtype": "F32", `, nil), "bad header JSON"},
		{"trailing garbage in header", file(`{} xx`, nil), "unexpected bytes"},
		{"duplicate key", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1}), "appears twice"},
		{"invalid utf8", file("{\"\xff\":1}", nil), "UTF-8"},
		{"metadata not strings", file(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
		{"entry not object", file(`{"a":[1]}`, nil), `tensor "a": bad entry`},
		{"no dtype", file(`{"a":{"shape":[1],"data_offsets":[0,1]}}`, []byte{1}), `no "dtype"`},
		{"no shape", file(`{"a":{"dtype":"U8","data_offsets":[0,1]}}`, []byte{1}), `no "shape"`},
		{"no offsets", file(`{"a":{"dtype":"U8","shape":[1]}}`, []byte{1}), `no "data_offsets"`},
		{"unknown dtype", file(`{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}`, []byte{1}), `unknown dtype "Q7"`},
		{"negative dim", file(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}`, []byte{1}), "negative dimension"},
		{"fractional dim", file(`{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}`, []byte{1}), "bad entry"},
		{"overflowing shape", file(`{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, make([]byte, 8)), "overflows"},
		{"offsets not a pair", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0]}}`, []byte{1}), "want [begin, end]"},
		{"offsets reversed", file(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[1,0]}}`, []byte{1}), "begin <= end"},
		{"negative offset", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}`, []byte{1}), "begin <= end"},
		{"wrong size", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), "wrong size"},
		{"out of range", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)), "out of range"},
		{"huge offsets", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[9223372036854775806,9223372036854775807]}}`, nil), "out of range"},
		{"overlap", file(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}`, make([]byte, 3)), "overlap"},
		{"gap", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}`, make([]byte, 3)), "gap"},
		{"trailing data", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, make([]byte, 5)), "after the last tensor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Decode(tc.data)
			if err == nil {
				t.Fatalf("Decode succeeded (%d tensors), want an error containing %q", len(f.Tensors), tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "safetensors: ") {
				t.Errorf("err = %q, want one starting with \"safetensors: \" and containing %q", err, tc.want)
			}
		})
	}
}

func TestReadNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := os.WriteFile(path, file(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Read(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `tensor "w"`) {
		t.Errorf("err = %v, want one naming %s and tensor \"w\"", err, path)
	}
	if _, err := Read(filepath.Join(t.TempDir(), "none.safetensors")); err == nil {
		t.Errorf("Read of a missing file: no error")
	}
}

func TestAcceptedVariants(t *testing.T) {
	// Unpadded header, keys in any order, no metadata, unknown entry fields, empty file.
	for _, tc := range []struct {
		name string
		data []byte
		n    int
	}{
		{"empty file", file(`{}`, nil), 0},
		{"null metadata", file(`{"__metadata__":null}`, nil), 0},
		{"padded", file(`{"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}    `, []byte{1, 2}), 2},
		{"extra field", file(`{"a":{"dtype":"I16","shape":[],"data_offsets":[0,2],"x":1}}`, []byte{1, 2}), 1},
		{"zero-size tensors", file(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[2,0],"data_offsets":[0,0]}}`, nil), 2},
	} {
		f, err := Decode(tc.data)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(f.Tensors) != tc.n {
			t.Errorf("%s: %d tensors, want %d", tc.name, len(f.Tensors), tc.n)
		}
	}
}

// TestPythonFile reads a file written by scripts/gen_fixtures.py (an independent writer of the
// format) and checks every value, then checks that re-encoding reproduces it byte for byte.
func TestPythonFile(t *testing.T) {
	path := filepath.Join("testdata", "python.safetensors")
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["format"] != "pt" || f.Metadata["writer"] != "scripts/gen_fixtures.py" {
		t.Errorf("metadata = %v", f.Metadata)
	}
	f32 := func(name string) []float32 {
		t.Helper()
		x, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		v, err := x.Float32()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	ints := func(name string) []int64 {
		t.Helper()
		x, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		v, err := x.Int64()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	shape := func(name string) []int { return f.Tensors[name].Shape }

	ar := f32("arange")
	if !slices.Equal(shape("arange"), []int{3, 4}) || len(ar) != 12 {
		t.Fatalf("arange: shape %v", shape("arange"))
	}
	for i, v := range ar {
		if v != float32(i)/4 {
			t.Errorf("arange[%d] = %v, want %v", i, v, float32(i)/4)
		}
	}
	inf := float32(math.Inf(1))
	checkF := func(name string, want []float32) {
		t.Helper()
		got := f32(name)
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
				t.Errorf("%s[%d] = %v, want %v", name, i, got[i], want[i])
			}
		}
	}
	checkF("f16", []float32{1, -2.5, 65504, float32(math.Ldexp(1, -24)), inf, float32(math.NaN())})
	checkF("bf16", []float32{1, -2.5, 3.140625, float32(math.Ldexp(1, 127)), -inf})
	checkF("f64", []float32{float32(math.Pi), float32(math.E)})
	checkF("scalar", []float32{42})
	if len(shape("scalar")) != 0 {
		t.Errorf("scalar has shape %v", shape("scalar"))
	}
	if v, _ := f.Tensors["f64"].Float64(); len(v) != 2 || v[0] != math.Pi || v[1] != math.E {
		t.Errorf("f64 = %v", v)
	}
	for name, want := range map[string][]int64{
		"i32":  {-3, -2, -1, 0, 1, 2, 3},
		"i64":  {1 << 40, -1},
		"u8":   {0, 255, 7},
		"bool": {1, 0, 1},
	} {
		if got := ints(name); !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := shape("empty"); !slices.Equal(got, []int{0, 2}) {
		t.Errorf("empty has shape %v", got)
	}

	raw, _ := os.ReadFile(path)
	again, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, again) {
		t.Errorf("Go's encoding differs from the Python writer's:\n go: %q\npy: %q", again[:min(len(again), 200)], raw[:min(len(raw), 200)])
	}
}

func FuzzDecode(f *testing.F) {
	good, err := func() ([]byte, error) {
		x := New()
		x.Metadata["k"] = "v"
		x.Add(From("a", []int{2, 2}, []float32{1, 2, 3, 4}))
		x.Add(From("b", []int{1}, []int32{5}))
		return x.Encode()
	}()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(file(`{}`, nil))
	f.Add(file(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, []byte{1, 2}))
	f.Add([]byte{})
	if py, err := os.ReadFile(filepath.Join("testdata", "python.safetensors")); err == nil {
		f.Add(py)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var file *File
		err := fuzzcheck.Run(t, func() (err error) { file, err = Decode(data); return err })
		if err != nil {
			return
		}
		// Whatever decodes must re-encode, and decode again to the same tensors.
		enc, err := file.Encode()
		if err != nil {
			t.Fatalf("decoded file does not re-encode: %v", err)
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded file does not decode: %v", err)
		}
		if len(again.Tensors) != len(file.Tensors) {
			t.Fatalf("%d tensors after a round trip, want %d", len(again.Tensors), len(file.Tensors))
		}
		for name, a := range file.Tensors {
			b := again.Tensors[name]
			if a.DType != b.DType || !slices.Equal(a.Shape, b.Shape) || !bytes.Equal(a.Data, b.Data) {
				t.Fatalf("tensor %q changed in a round trip", name)
			}
			// The typed getters never panic on decoded tensors.
			a.Float32()
			a.Int64()
		}
	})
}
