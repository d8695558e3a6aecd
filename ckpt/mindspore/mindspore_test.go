package mindspore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/resnext/resnext/ckpt/internal/fuzzcheck"
	"github.com/resnext/resnext/ckpt/safetensors"
)

// raw builds checkpoint bytes by hand, independently of the encoder under test.
type raw []byte

// tensorMsg encodes a TensorProto (dims unpacked).
func tensorMsg(dims []int64, tensorType string, content []byte) []byte {
	var b []byte
	for _, d := range dims {
		b = protowire.AppendTag(b, fieldDims, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = protowire.AppendTag(b, fieldType, protowire.BytesType)
	b = protowire.AppendString(b, tensorType)
	b = protowire.AppendTag(b, fieldContent, protowire.BytesType)
	return protowire.AppendBytes(b, content)
}

// valueMsg encodes a top-level Value field holding a tag and the given TensorProto bytes.
func valueMsg(tag string, tensor []byte) []byte {
	var v []byte
	v = protowire.AppendTag(v, fieldTag, protowire.BytesType)
	v = protowire.AppendString(v, tag)
	v = protowire.AppendTag(v, fieldTensor, protowire.BytesType)
	v = protowire.AppendBytes(v, tensor)
	return field(v)
}

// field wraps a Value message's bytes as a Checkpoint.value field.
func field(v []byte) []byte {
	b := protowire.AppendTag(nil, fieldValue, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func f32s(v ...float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// sample holds a tensor of every dtype, a scalar, a zero-size tensor and strings.
func sample() *File {
	f := &File{Strings: map[string]string{"note": "héllo ✓ 😀", "empty_note": ""}}
	add := func(t Tensor) { f.Tensors = append(f.Tensors, t) }
	add(safetensors.From("conv1.weight", []int{4, 1, 2, 2}, []float32{1, -2, 3.5, 0, 1e-30, -1e30, float32(math.Inf(1)), 7, 8, 9, 10, 11, 12, 13, 14, 15}))
	add(safetensors.From("f64", []int{2}, []float64{math.Pi, -math.E}))
	add(safetensors.From("i32", []int{3}, []int32{0, -7, math.MaxInt32}))
	add(safetensors.From("i64", []int{2}, []int64{1 << 40, -1}))
	add(safetensors.From("scalar", []int{}, []float32{42}))
	add(safetensors.From[float32]("empty", []int{0, 3}, nil))
	add(Tensor{Name: "f16", DType: safetensors.F16, Shape: []int{3}, Data: []byte{0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00}})
	add(Tensor{Name: "bf16", DType: safetensors.BF16, Shape: []int{2}, Data: []byte{0x80, 0x3f, 0x49, 0x40}})
	add(Tensor{Name: "i8", DType: safetensors.I8, Shape: []int{2}, Data: []byte{0x80, 0x7f}})
	add(Tensor{Name: "i16", DType: safetensors.I16, Shape: []int{1}, Data: []byte{0x00, 0x80}})
	add(Tensor{Name: "u8", DType: safetensors.U8, Shape: []int{2}, Data: []byte{0, 255}})
	add(Tensor{Name: "u16", DType: safetensors.U16, Shape: []int{1}, Data: []byte{0xff, 0xff}})
	add(Tensor{Name: "u32", DType: safetensors.U32, Shape: []int{1}, Data: []byte{1, 2, 3, 4}})
	add(Tensor{Name: "u64", DType: safetensors.U64, Shape: []int{1}, Data: []byte{1, 2, 3, 4, 5, 6, 7, 0x80}})
	add(Tensor{Name: "bool", DType: safetensors.BOOL, Shape: []int{3}, Data: []byte{1, 0, 1}})
	return f
}

// sameContent reports the first difference between two files, or "".
func sameContent(a, b *File) string {
	if len(a.Tensors) != len(b.Tensors) {
		return "different tensor counts"
	}
	for i, x := range a.Tensors {
		y := b.Tensors[i]
		if x.Name != y.Name || x.DType != y.DType || !slices.Equal(x.Shape, y.Shape) || !bytes.Equal(x.Data, y.Data) {
			return "tensor " + x.Name + " differs from " + y.Name
		}
	}
	if len(a.Strings) != len(b.Strings) {
		return "different string counts"
	}
	for k, v := range a.Strings {
		if b.Strings[k] != v {
			return "string " + k + " differs"
		}
	}
	return ""
}

// countValues returns how many Values each tag has in a checkpoint's bytes.
func countValues(t *testing.T, data []byte) map[string]int {
	t.Helper()
	n := map[string]int{}
	for len(data) > 0 {
		_, _, k := protowire.ConsumeTag(data)
		body, m := protowire.ConsumeBytes(data[k:])
		if k < 0 || m < 0 {
			t.Fatal("bad checkpoint bytes")
		}
		v, err := parseValue(body, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		n[v.tag]++
		data = data[k+m:]
	}
	return n
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
	}{
		{"plain", Options{}},
		{"sliced", Options{SliceBytes: 12}},
		{"one row per slice", Options{SliceBytes: 1}},
		{"scalar dims zero", Options{ScalarDimsZero: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := sample()
			path := filepath.Join(t.TempDir(), "x.ckpt")
			if err := f.Write(path, tc.opt); err != nil {
				t.Fatal(err)
			}
			g, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			if d := sameContent(f, g); d != "" {
				t.Fatal(d)
			}
			raw, _ := os.ReadFile(path)
			enc, err := f.Encode(tc.opt)
			if err != nil || !bytes.Equal(raw, enc) {
				t.Errorf("Encode differs from Write (err %v)", err)
			}
			counts := countValues(t, raw)
			switch tc.opt.SliceBytes {
			case 12: // conv1.weight: 64 bytes in rows of 16 bytes: one row per slice
				if counts["conv1.weight"] != 4 || counts["f64"] != 2 || counts["scalar"] != 1 || counts["i32"] != 1 {
					t.Errorf("values per tag = %v", counts)
				}
			case 1:
				if counts["conv1.weight"] != 4 || counts["bool"] != 3 {
					t.Errorf("values per tag = %v", counts)
				}
			case 0:
				for tag, n := range counts {
					if n != 1 {
						t.Errorf("tag %q has %d values, want 1", tag, n)
					}
				}
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			if len(entries) != 1 {
				t.Errorf("directory holds %d entries after Write, want 1", len(entries))
			}
		})
	}
}

func TestSliceSizes(t *testing.T) {
	// 10 rows of 8 bytes, at most 24 bytes a slice: 3+3+3+1 rows.
	x := safetensors.From("w", []int{10, 2}, make([]float32, 20))
	data, err := (&File{Tensors: []Tensor{x}}).Encode(Options{SliceBytes: 24})
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for len(data) > 0 {
		_, _, k := protowire.ConsumeTag(data)
		body, m := protowire.ConsumeBytes(data[k:])
		v, err := parseValue(body, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(v.dims, []int64{10, 2}) {
			t.Errorf("slice dims %v, want the whole tensor's [10 2]", v.dims)
		}
		sizes = append(sizes, len(v.content))
		data = data[k+m:]
	}
	if !slices.Equal(sizes, []int{24, 24, 24, 8}) {
		t.Errorf("slice sizes %v, want [24 24 24 8]", sizes)
	}
}

func TestSlicesWithOwnDims(t *testing.T) {
	// Slices that carry their own dims join along the first dimension.
	data := join(
		valueMsg("w", tensorMsg([]int64{2, 2}, "Float32", f32s(1, 2, 3, 4))),
		valueMsg("w", tensorMsg([]int64{1, 2}, "Float32", f32s(5, 6))),
		valueMsg("b", tensorMsg([]int64{1}, "Float32", f32s(7))),
	)
	f, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := f.Tensor("w")
	v, _ := w.Float32()
	if !slices.Equal(w.Shape, []int{3, 2}) || !slices.Equal(v, []float32{1, 2, 3, 4, 5, 6}) {
		t.Errorf("w = %v %v", w.Shape, v)
	}
}

func TestScalars(t *testing.T) {
	data := join(
		valueMsg("old", tensorMsg([]int64{0}, "Float32", f32s(0.9))),
		valueMsg("new", tensorMsg(nil, "Int32", []byte{7, 0, 0, 0})),
		valueMsg("zero-size", tensorMsg([]int64{0}, "Float32", nil)),
	)
	f, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tag   string
		shape []int
	}{{"old", []int{}}, {"new", []int{}}, {"zero-size", []int{0}}} {
		x, ok := f.Tensor(tc.tag)
		if !ok || !slices.Equal(x.Shape, tc.shape) || x.Shape == nil {
			t.Errorf("%s: shape %v, want %v", tc.tag, x.Shape, tc.shape)
		}
	}
	if v, _ := f.Tensors[0].Float32(); len(v) != 1 || v[0] != 0.9 {
		t.Errorf("old scalar = %v", v)
	}
	// Packed dims are accepted as well.
	packed := protowire.AppendTag(nil, fieldDims, protowire.BytesType)
	packed = protowire.AppendBytes(packed, []byte{2, 1})
	packed = append(packed, tensorMsg(nil, "UInt8", []byte{1, 2})...)
	g, err := Decode(valueMsg("p", packed))
	if err != nil || !slices.Equal(g.Tensors[0].Shape, []int{2, 1}) {
		t.Errorf("packed dims: %v, %v", g, err)
	}
}

// TestPythonFixture reads a file written by scripts/gen_ckpt_fixture.py with Debian's protobuf
// library, an encoder independent of this package, and checks every value.
func TestPythonFixture(t *testing.T) {
	f, err := Read(filepath.Join("testdata", "python.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range f.Tensors {
		names = append(names, x.Name)
	}
	want := []string{"conv1.weight", "bn1.gamma", "bn1.beta", "bn1.moving_mean", "bn1.moving_variance",
		"layer1.0.down_sample.0.weight", "classifier.weight", "classifier.bias", "moments.conv1.weight",
		"learning_rate", "momentum", "global_step", "f64", "scalar", "i8", "i16", "i64", "u8", "u16", "u32",
		"u64", "bool", "empty", "random_op"}
	if !slices.Equal(names, want) {
		t.Fatalf("tensors %v,\nwant %v", names, want)
	}
	get := func(name string) Tensor {
		x, _ := f.Tensor(name)
		return x
	}
	checkF := func(name string, shape []int, want []float32) {
		t.Helper()
		x := get(name)
		v, err := x.Float32()
		if err != nil || !slices.Equal(x.Shape, shape) || !slices.Equal(v, want) {
			t.Errorf("%s = %s %v %v (%v), want %v %v", name, x.DType, x.Shape, v, err, shape, want)
		}
	}
	ramp := func(n int, f func(i int) float32) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	checkF("conv1.weight", []int{2, 1, 2, 2}, ramp(8, func(i int) float32 { return float32(i)/4 - 1 }))
	checkF("bn1.gamma", []int{2}, []float32{1, 0.5})
	checkF("bn1.moving_variance", []int{2}, []float32{1, 2})
	checkF("layer1.0.down_sample.0.weight", []int{2, 2, 1, 1}, []float32{1, -2.5, 65504, float32(math.Ldexp(1, -24))})
	checkF("classifier.weight", []int{4, 3}, ramp(12, func(i int) float32 { return float32(i) * 0.5 }))
	checkF("classifier.bias", []int{4}, []float32{1, -2.5, 3.140625, float32(math.Ldexp(1, 127))})
	checkF("moments.conv1.weight", []int{2, 1, 2, 2}, ramp(8, func(i int) float32 { return -float32(i) / 8 }))
	checkF("learning_rate", []int{5}, []float32{0.1, 0.075, 0.05, 0.025, 0})
	checkF("momentum", []int{}, []float32{0.9})
	checkF("empty", []int{0, 3}, []float32{})
	if x := get("f64"); x.DType != safetensors.F64 {
		t.Errorf("f64 has dtype %s", x.DType)
	} else if v, _ := x.Float64(); !slices.Equal(v, []float64{math.Pi, math.E}) {
		t.Errorf("f64 = %v", v)
	}
	if v, _ := get("scalar").Float64(); len(get("scalar").Shape) != 0 || !slices.Equal(v, []float64{42.5}) {
		t.Errorf("scalar = %v %v", get("scalar").Shape, v)
	}
	for name, want := range map[string][]int64{
		"global_step": {1234}, "i8": {-128, 0, 127}, "i16": {-32768, 32767}, "i64": {1 << 40, -1},
		"u8": {0, 255, 7}, "u16": {0, 65535}, "u32": {4294967295}, "bool": {1, 0, 1}, "random_op": {1, 2, 3},
	} {
		if v, err := get(name).Int64(); err != nil || !slices.Equal(v, want) {
			t.Errorf("%s = %v (%v), want %v", name, v, err, want)
		}
	}
	if x := get("global_step"); x.DType != safetensors.I32 || !slices.Equal(x.Shape, []int{1}) {
		t.Errorf("global_step is %s %v, want I32 [1]", x.DType, x.Shape)
	}
	if x := get("u64"); x.DType != safetensors.U64 || binary.LittleEndian.Uint64(x.Data) != 1<<63+5 {
		t.Errorf("u64 = %s %x", x.DType, x.Data)
	}
	if x := get("bool"); x.DType != safetensors.BOOL {
		t.Errorf("bool has dtype %s", x.DType)
	}
	wantStrings := map[string]string{"note": "pool_padding=same, ünïcode ✓ 😀", "empty_note": ""}
	if len(f.Strings) != len(wantStrings) {
		t.Errorf("strings = %q, want %q", f.Strings, wantStrings)
	}
	for k, v := range wantStrings {
		if got, ok := f.Strings[k]; !ok || got != v {
			t.Errorf("string %q = %q, want %q", k, got, v)
		}
	}

	// Written again by this package, the content survives (the layout differs: no uneven slices).
	enc, err := f.Encode(Options{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if d := sameContent(f, g); d != "" {
		t.Error(d)
	}
}

func TestCorrupt(t *testing.T) {
	good := valueMsg("conv1.weight", tensorMsg([]int64{2}, "Float32", f32s(1, 2)))
	other := valueMsg("bn1.gamma", tensorMsg([]int64{1}, "Float32", f32s(1)))
	noTag := field(protowire.AppendBytes(protowire.AppendTag(nil, fieldTensor, protowire.BytesType), tensorMsg([]int64{1}, "Float32", f32s(1))))
	noTensor := field(protowire.AppendString(protowire.AppendTag(nil, fieldTag, protowire.BytesType), "w"))
	mapTensor := field(protowire.AppendBytes(protowire.AppendTag(
		protowire.AppendString(protowire.AppendTag(nil, fieldTag, protowire.BytesType), "m"),
		fieldMapTensor, protowire.BytesType), nil))
	noType := valueMsg("w", protowire.AppendBytes(protowire.AppendTag(nil, fieldContent, protowire.BytesType), f32s(1)))
	wireType := valueMsg("w", protowire.AppendVarint(protowire.AppendTag(nil, fieldType, protowire.VarintType), 3))
	safetensorsFile, _ := (&safetensors.File{Tensors: map[string]Tensor{"a": safetensors.From("a", []int{1}, []float32{1})}}).Encode()

	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty file"},
		{"text", []byte("hello, world"), "not a MindSpore checkpoint: it starts with bytes 68 65"},
		{"safetensors", safetensorsFile, "not a MindSpore checkpoint"},
		{"truncated content", good[:len(good)-3], `truncated: tag "conv1.weight" (value 0 at byte 0) declares`},
		{"truncated second value", join(good, other[:16]), `truncated: tag "bn1.gamma" (value 1 at byte`},
		{"truncated length", []byte{0x0a, 0x80}, "truncated: value 0 at byte 0: its length is cut short"},
		{"truncated in a header", join(good, []byte{0x0a}), "truncated: value 1"},
		{"trailing garbage", join(good, []byte{0x10, 0x01}), fmt.Sprintf("damaged at byte %d (after 1 values): found protobuf field 2", len(good))},
		{"size mismatch", valueMsg("w", tensorMsg([]int64{3}, "Float32", f32s(1, 2))), `tensor "w": content size mismatch: tensor_content has 8 bytes, but Float32 [3] needs 12`},
		{"sliced size mismatch", join(valueMsg("w", tensorMsg([]int64{3}, "Float32", f32s(1))), valueMsg("w", tensorMsg([]int64{3}, "Float32", f32s(1)))), `tensor "w": content size mismatch: 2 slices hold 8 bytes`},
		{"unknown type", valueMsg("w", tensorMsg([]int64{1}, "Float8", []byte{1})), `tensor "w": unknown tensor_type "Float8"`},
		{"negative dim", valueMsg("w", tensorMsg([]int64{-1}, "Float32", nil)), `tensor "w": dims [-1] has a negative dimension`},
		{"overflowing dims", valueMsg("w", tensorMsg([]int64{1 << 40, 1 << 40}, "Float32", nil)), "overflows"},
		{"slices of different types", join(valueMsg("w", tensorMsg([]int64{2}, "Float32", f32s(1))), valueMsg("w", tensorMsg([]int64{2}, "Int32", f32s(1)))), `tensor "w": slice 1 has tensor_type "Int32"`},
		{"slices of different ranks", join(valueMsg("w", tensorMsg([]int64{1, 1}, "Float32", f32s(1))), valueMsg("w", tensorMsg([]int64{1}, "Float32", f32s(1)))), "slices disagree on dims"},
		{"rows overflow", bytes.Repeat(join(valueMsg("w", tensorMsg([]int64{1 << 60, 0}, "Float32", nil)), valueMsg("w", tensorMsg([]int64{1<<60 + 1, 0}, "Float32", nil))), 4),
			"slices hold more than"},
		{"duplicate tag", join(good, other, good), `tag "conv1.weight" appears twice: at values 0 and 2`},
		{"no tag", noTag, "value 0 (at byte 0) has no tag"},
		{"no tensor", noTensor, `tag "w" has no tensor`},
		{"map tensor", mapTensor, `tag "m" holds a map tensor`},
		{"no tensor type", noType, `tag "w": the tensor has no tensor_type`},
		{"wire type", wireType, `tag "w": field tensor_type has wire type 0`},
		{"bad string", valueMsg("s", tensorMsg([]int64{0}, "str", []byte{1, 2, 3})), `string "s": content has 3 bytes`},
		{"bad code point", valueMsg("s", tensorMsg([]int64{0}, "str", []byte{0, 0xd8, 0, 0})), `string "s": character 0 is 0xd800`},
		{"string dims", valueMsg("s", tensorMsg([]int64{2}, "str", []byte{0x41, 0, 0, 0})), `string "s": dims [2]`},
		{"invalid utf8 tag", valueMsg("\xff", tensorMsg(nil, "UInt8", []byte{1})), "not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Decode(tc.data)
			if err == nil {
				t.Fatalf("Decode succeeded (%d tensors), want an error containing %q", len(f.Tensors), tc.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "mindspore: ") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("err = %q, want one line starting with \"mindspore: \" and containing %q", msg, tc.want)
			}
		})
	}
}

func TestEveryTruncation(t *testing.T) {
	// A file cut anywhere reads as an error or, cut exactly between two tensors, as fewer tensors;
	// a cut inside a sliced tensor never goes unnoticed.
	data, err := os.ReadFile(filepath.Join("testdata", "python.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	full, _ := Decode(data)
	for n := range len(data) {
		f, err := Decode(data[:n])
		if err != nil {
			continue
		}
		for _, x := range f.Tensors {
			y, _ := full.Tensor(x.Name)
			if !slices.Equal(x.Shape, y.Shape) || !bytes.Equal(x.Data, y.Data) {
				t.Fatalf("cut at %d: tensor %q decodes to %v, the whole file has %v", n, x.Name, x.Shape, y.Shape)
			}
		}
	}
}

func TestReadNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.ckpt")
	if err := os.WriteFile(path, valueMsg("bn1.gamma", tensorMsg([]int64{3}, "Float32", f32s(1))), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Read(path)
	if err == nil || !strings.HasPrefix(err.Error(), "mindspore "+path+": ") || !strings.Contains(err.Error(), `tensor "bn1.gamma"`) {
		t.Errorf("err = %v, want one naming %s and tensor \"bn1.gamma\"", err, path)
	}
	if _, err := Read(filepath.Join(t.TempDir(), "none.ckpt")); err == nil {
		t.Errorf("Read of a missing file: no error")
	}
}

func TestWriteChecks(t *testing.T) {
	dir := t.TempDir()
	one := safetensors.From("a", []int{1}, []float32{1})
	for _, tc := range []struct {
		name string
		f    *File
		opt  Options
		want string
	}{
		{"nothing", &File{}, Options{}, "nothing to write"},
		{"f8", &File{Tensors: []Tensor{{Name: "a", DType: safetensors.F8E4M3, Shape: []int{1}, Data: []byte{0}}}}, Options{}, `dtype "F8_E4M3" has no MindSpore tensor_type`},
		{"short data", &File{Tensors: []Tensor{{Name: "a", DType: safetensors.F32, Shape: []int{2}, Data: []byte{0, 0, 0, 0}}}}, Options{}, "4 bytes of data for F32 [2], want 8"},
		{"negative", &File{Tensors: []Tensor{{Name: "a", DType: safetensors.U8, Shape: []int{-1}}}}, Options{}, "negative"},
		{"duplicate", &File{Tensors: []Tensor{one, one}}, Options{}, `tag "a" appears twice`},
		{"string clash", &File{Tensors: []Tensor{one}, Strings: map[string]string{"a": "x"}}, Options{}, `tag "a" appears twice`},
		{"empty tag", &File{Tensors: []Tensor{{DType: safetensors.U8, Shape: []int{}, Data: []byte{1}}}}, Options{}, "empty tag"},
		{"nul", &File{Strings: map[string]string{"s": "a\x00"}}, Options{}, "NUL"},
		{"bad utf8", &File{Strings: map[string]string{"s": "\xff"}}, Options{}, "UTF-8"},
		{"negative slice", &File{Tensors: []Tensor{one}}, Options{SliceBytes: -1}, "SliceBytes"},
	} {
		path := filepath.Join(dir, "x.ckpt")
		err := tc.f.Write(path, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want one naming the file and containing %q", tc.name, err, tc.want)
		}
		if _, serr := os.Stat(path); serr == nil {
			t.Errorf("%s: a file was written despite the error", tc.name)
		}
	}
	if err := sample().Write(filepath.Join(dir, "missing", "x.ckpt"), Options{}); err == nil {
		t.Errorf("write into a missing directory: no error")
	}
}

func TestTypeNames(t *testing.T) {
	for tt, dt := range tensorTypes {
		if got, err := TensorType(dt); err != nil || got != tt {
			t.Errorf("TensorType(%s) = %q, %v; want %q", dt, got, err, tt)
		}
		if got, err := DType(tt); err != nil || got != dt {
			t.Errorf("DType(%s) = %q, %v; want %q", tt, got, err, dt)
		}
	}
	if _, err := DType("Complex64"); err == nil || !strings.Contains(err.Error(), "BFloat16") {
		t.Errorf("DType(Complex64): err = %v, want one listing the known types", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, opt := range []Options{{}, {SliceBytes: 8, ScalarDimsZero: true}} {
		enc, err := sample().Encode(opt)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	if py, err := os.ReadFile(filepath.Join("testdata", "python.ckpt")); err == nil {
		f.Add(py)
	}
	f.Add(join(valueMsg("w", tensorMsg([]int64{2, 2}, "Float32", f32s(1, 2, 3, 4))), valueMsg("w", tensorMsg([]int64{1, 2}, "Float32", f32s(5, 6)))))
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var file *File
		err := fuzzcheck.Run(t, func() (err error) { file, err = Decode(data); return err })
		if err != nil {
			return
		}
		// Whatever decodes re-encodes (unless it holds what the writer refuses) and decodes again
		// to the same content.
		enc, err := file.Encode(Options{SliceBytes: 16})
		if err != nil {
			return
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded file does not decode: %v", err)
		}
		if d := sameContent(file, again); d != "" {
			t.Fatalf("round trip: %s", d)
		}
		for _, x := range file.Tensors {
			x.Float32()
			x.Int64()
		}
	})
}
