package torch

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resnext/resnext/ckpt/safetensors"
)

// expected reads testdata/expected.safetensors: for each fixture, its tensors in file order.
func expected(t *testing.T) map[string][]safetensors.Tensor {
	t.Helper()
	f, err := safetensors.Read(filepath.Join("testdata", "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]safetensors.Tensor{}
	for key, val := range f.Metadata {
		stem, ok := strings.CutPrefix(key, "order/")
		if !ok {
			continue
		}
		var names []string
		if err := json.Unmarshal([]byte(val), &names); err != nil {
			t.Fatalf("expected.safetensors: %s: %v", key, err)
		}
		for _, n := range names {
			x, err := f.Tensor(stem + "/" + n)
			if err != nil {
				t.Fatal(err)
			}
			x.Name = n
			out[stem] = append(out[stem], x)
		}
	}
	return out
}

// compare checks that got holds exactly the tensors of want, in order.
func compare(t *testing.T, got, want []safetensors.Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d tensors, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.Name {
			t.Errorf("tensor %d is %q, want %q", i, g.Name, w.Name)
		}
		if g.DType != w.DType || !slices.Equal(g.Shape, w.Shape) {
			t.Errorf("%s: %s %v, want %s %v", w.Name, g.DType, g.Shape, w.DType, w.Shape)
		}
		if g.Shape == nil {
			t.Errorf("%s: nil shape, want an empty one for a scalar", w.Name)
		}
		if !bytes.Equal(g.Data, w.Data) {
			t.Errorf("%s: data differ:\n got %x\nwant %x", w.Name, g.Data, w.Data)
		}
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeBytes(b []byte) ([]safetensors.Tensor, error) {
	return Decode(bytes.NewReader(b), int64(len(b)))
}

func TestFixtures(t *testing.T) {
	want := expected(t)
	stems := []string{"dtypes", "views", "resnext", "nested_state_dict", "nested_model", "parameters",
		"protocol4", "legacy"}
	for _, stem := range stems {
		t.Run(stem, func(t *testing.T) {
			w, ok := want[stem]
			if !ok {
				t.Fatalf("expected.safetensors has no order/%s", stem)
			}
			got, err := Read(filepath.Join("testdata", stem+".pth"))
			if err != nil {
				t.Fatal(err)
			}
			compare(t, got, w)
		})
	}
}

func TestResNeXtNames(t *testing.T) {
	got, err := Read(filepath.Join("testdata", "resnext.pth"))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]safetensors.Tensor{}
	for _, x := range got {
		byName[x.Name] = x
	}
	for name, shape := range map[string][]int{
		"conv1.weight":                 {8, 3, 3, 3},
		"bn1.weight":                   {8},
		"bn1.running_var":              {8},
		"bn1.num_batches_tracked":      {},
		"layer1.0.conv2.weight":        {8, 2, 3, 3},
		"layer1.0.downsample.0.weight": {16, 8, 1, 1},
		"layer1.0.downsample.1.bias":   {16},
		"fc.weight":                    {5, 16},
		"fc.bias":                      {5},
	} {
		x, ok := byName[name]
		if !ok {
			t.Errorf("no tensor %q", name)
			continue
		}
		if !slices.Equal(x.Shape, shape) {
			t.Errorf("%s: shape %v, want %v", name, x.Shape, shape)
		}
	}
	nbt := byName["bn1.num_batches_tracked"]
	if v, err := nbt.Int64(); err != nil || len(v) != 1 || v[0] != 2 {
		t.Errorf("bn1.num_batches_tracked = %v (%v), want [2]", v, err)
	}
}

// entry is one file of a zip archive built by a test.
type entry struct {
	name   string
	data   []byte
	method uint16
}

func makeZip(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		f, err := w.CreateHeader(&zip.FileHeader{Name: e.name, Method: e.method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func unzip(t testing.TB, b []byte) []entry {
	t.Helper()
	r, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var out []entry
	for _, f := range r.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{f.Name, data, f.Method})
	}
	return out
}

// rezip rebuilds a fixture's archive after passing each entry through edit; an edit returning false
// drops the entry.
func rezip(t testing.TB, fixture string, edit func(e *entry) bool, extra ...entry) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	var out []entry
	for _, e := range unzip(t, b) {
		if edit(&e) {
			out = append(out, e)
		}
	}
	return makeZip(t, append(out, extra...))
}

func keep(*entry) bool { return true }

func TestArchiveVariants(t *testing.T) {
	want := expected(t)
	cases := []struct {
		name, fixture string
		edit          func(e *entry) bool
		extra         []entry
	}{
		{"rezipped", "resnext.pth", keep, nil},
		{"folder named archive, with byteorder and .data/version", "resnext.pth", func(e *entry) bool {
			e.name = "archive/" + strings.TrimPrefix(e.name, "resnext/")
			return true
		}, []entry{{"archive/byteorder", []byte("little"), zip.Store}, {"archive/.data/version", []byte("3\n"), zip.Store}}},
		{"deflated", "dtypes.pth", func(e *entry) bool { e.method = zip.Deflate; return true }, nil},
		{"without version", "views.pth", func(e *entry) bool { return !strings.HasSuffix(e.name, "/version") }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeBytes(rezip(t, c.fixture, c.edit, c.extra...))
			if err != nil {
				t.Fatal(err)
			}
			compare(t, got, want[strings.TrimSuffix(c.fixture, ".pth")])
		})
	}
}

// storageSizes decodes a fixture's pickle and returns the element size of each storage key.
func storageSizes(t *testing.T, fixture string) map[string]int {
	t.Helper()
	for _, e := range unzip(t, readFile(t, fixture)) {
		if strings.HasSuffix(e.name, "/data.pkl") {
			d := newDecoder(false)
			u := &unpickler{data: e.data, persistentLoad: d.persistentLoad}
			if _, err := u.load(); err != nil {
				t.Fatal(err)
			}
			sizes := map[string]int{}
			for k, st := range d.storages {
				sizes[k] = st.dtype.size
			}
			return sizes
		}
	}
	t.Fatal("no data.pkl")
	return nil
}

func TestBigEndian(t *testing.T) {
	for _, fixture := range []string{"dtypes.pth", "views.pth"} {
		sizes := storageSizes(t, fixture)
		b := rezip(t, fixture, func(e *entry) bool {
			if _, key, ok := strings.Cut(e.name, "/data/"); ok {
				swapBytes(e.data, sizes[key])
			}
			return true
		}, entry{strings.TrimSuffix(fixture, ".pth") + "/byteorder", []byte("big"), zip.Store})
		got, err := decodeBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		compare(t, got, expected(t)[strings.TrimSuffix(fixture, ".pth")])
	}
}

// pk builds pickles by hand.
type pk struct{ bytes.Buffer }

func (p *pk) op(b ...byte) *pk { p.Write(b); return p }

func (p *pk) str(s string) *pk {
	p.WriteByte(opBinUnicode)
	binary.Write(p, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}

func (p *pk) int(n int32) *pk {
	p.WriteByte(opBinInt)
	binary.Write(p, binary.LittleEndian, n)
	return p
}

func (p *pk) global(module, name string) *pk {
	p.WriteString("c" + module + "\n" + name + "\n")
	return p
}

func (p *pk) ints(v ...int32) *pk {
	p.op(opMark)
	for _, n := range v {
		p.int(n)
	}
	return p.op(opTuple)
}

// tensor pushes _rebuild_tensor_v2 of a storage ('storage', torch.<typ>, key, 'cpu', numel).
func (p *pk) tensor(typ, key string, numel, offset int32, shape, stride []int32) *pk {
	p.global("torch._utils", "_rebuild_tensor_v2").op(opMark)
	p.op(opMark).str("storage").global("torch", typ).str(key).str("cpu").int(numel).op(opTuple, opBinPersID)
	p.int(offset).ints(shape...).ints(stride...).op(opNewFalse)
	p.global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
	return p.op(opTuple, opReduce)
}

// stateDict returns the pickle of {name: tensor} for one tensor.
func stateDict(typ, key string, numel, offset int32, shape, stride []int32) []byte {
	p := new(pk).op(opProto, 2, opEmptyDict).str("w")
	p.tensor(typ, key, numel, offset, shape, stride)
	return p.op(opSetItem, opStop).Bytes()
}

func f32s(n int) []byte { return make([]byte, 4*n) }

func TestErrors(t *testing.T) {
	resnext := readFile(t, "resnext.pth")
	legacy := readFile(t, "legacy.pth")
	cases := []struct {
		name string
		data []byte
		want []string // substrings of the error
	}{
		{"empty", nil, []string{"empty file"}},
		{"text", []byte("hello, world\n"), []string{"not a PyTorch checkpoint", "hello"}},
		{"truncated zip", resnext[:len(resnext)/2], []string{"not a readable zip archive"}},
		{"zip without data.pkl", makeZip(t, []entry{{"a/b.txt", []byte("x"), zip.Store}}),
			[]string{"without a <folder>/data.pkl", `"a/b.txt"`}},
		{"two data.pkl", makeZip(t, []entry{{"a/data.pkl", nil, zip.Store}, {"b/data.pkl", nil, zip.Store}}),
			[]string{"2 data.pkl entries"}},
		{"torchscript", makeZip(t, []entry{{"m/data.pkl", nil, zip.Store}, {"m/constants.pkl", nil, zip.Store}}),
			[]string{"TorchScript"}},
		{"missing storage", rezip(t, "resnext.pth", func(e *entry) bool { return e.name != "resnext/data/3" }),
			[]string{`tensor "bn1.running_mean"`, "resnext/data/3", "no entry"}},
		{"short storage", rezip(t, "resnext.pth", func(e *entry) bool {
			if e.name == "resnext/data/0" {
				e.data = e.data[:100]
			}
			return true
		}), []string{`tensor "conv1.weight"`, "resnext/data/0", "wrong size", "holds 100 bytes", "want 864 bytes"}},
		{"bad crc", func() []byte {
			b := bytes.Clone(resnext)
			// Flip a byte inside conv1.weight's storage (the first storage after data.pkl).
			i := bytes.Index(b, []byte("resnext/data/0")) + len("resnext/data/0") + 200
			b[i] ^= 0xff
			return b
		}(), []string{"resnext/data/0", "checksum"}},
		{"truncated pickle", rezip(t, "resnext.pth", func(e *entry) bool {
			if strings.HasSuffix(e.name, "data.pkl") {
				e.data = e.data[:len(e.data)/2]
			}
			return true
		}), []string{"resnext/data.pkl", "truncated"}},
		{"disallowed global os.system", makeZip(t, []entry{{"archive/data.pkl",
			new(pk).op(opProto, 2).global("os", "system").str("echo hi").op(opTuple1, opReduce, opStop).Bytes(), zip.Store}}),
			[]string{"archive/data.pkl", "global os.system is not allowed"}},
		{"disallowed global via STACK_GLOBAL", makeZip(t, []entry{{"archive/data.pkl",
			new(pk).op(opProto, 4).str("builtins").str("eval").op(opStackGlobal, opStop).Bytes(), zip.Store}}),
			[]string{"global builtins.eval is not allowed"}},
		{"argparse.Namespace", readFile(t, "disallowed.pth"), []string{"disallowed/data.pkl", "global argparse.Namespace is not allowed"}},
		{"unsupported storage", makeZip(t, []entry{{"archive/data.pkl",
			stateDict("ComplexFloatStorage", "0", 1, 0, nil, nil), zip.Store}}),
			[]string{"unsupported storage type torch.ComplexFloatStorage"}},
		{"NEWOBJ", makeZip(t, []entry{{"archive/data.pkl",
			new(pk).op(opProto, 2).global("collections", "OrderedDict").op(opEmptyTuple, opNewObj, opStop).Bytes(), zip.Store}}),
			[]string{"opcode NEWOBJ", "instance of a Python class"}},
		{"not a dict", makeZip(t, []entry{{"archive/data.pkl", new(pk).op(opProto, 2, opEmptyList, opStop).Bytes(), zip.Store}}),
			[]string{"the saved object is a list, want a dict of tensors"}},
		{"no state dict", makeZip(t, []entry{{"archive/data.pkl",
			new(pk).op(opProto, 2, opEmptyDict).str("epoch").int(3).op(opSetItem, opStop).Bytes(), zip.Store}}),
			[]string{"no state dict found", `"epoch" (int)`}},
		{"mixed dict", makeZip(t, []entry{
			{"archive/data.pkl", new(pk).op(opProto, 2, opEmptyDict).str("w").
				tensor("FloatStorage", "0", 2, 0, []int32{2}, []int32{1}).op(opSetItem).
				str("epoch").int(3).op(opSetItem, opStop).Bytes(), zip.Store},
			{"archive/data/0", f32s(2), zip.Store}}),
			[]string{`holds 1 tensors, but its entry "epoch" is an int`}},
		{"view past the end", makeZip(t, []entry{
			{"archive/data.pkl", stateDict("FloatStorage", "0", 6, 1, []int32{2, 3}, []int32{3, 1}), zip.Store},
			{"archive/data/0", f32s(6), zip.Store}}),
			[]string{`tensor "w"`, "reaches past the end of storage \"0\" of 6 elements"}},
		{"negative stride", makeZip(t, []entry{
			{"archive/data.pkl", stateDict("FloatStorage", "0", 6, 5, []int32{6}, []int32{-1}), zip.Store},
			{"archive/data/0", f32s(6), zip.Store}}),
			[]string{`tensor "w"`, "negative"}},
		{"size and stride differ", makeZip(t, []entry{
			{"archive/data.pkl", stateDict("FloatStorage", "0", 6, 0, []int32{6}, nil), zip.Store}}),
			[]string{"differ in length"}},
		{"huge expansion", makeZip(t, []entry{
			{"archive/data.pkl", stateDict("FloatStorage", "0", 1, 0, []int32{1 << 30, 1 << 30}, []int32{0, 0}), zip.Store},
			{"archive/data/0", f32s(1), zip.Store}}),
			[]string{`tensor "w"`, "not a plain state dict"}},
		{"storage declared twice", makeZip(t, []entry{{"archive/data.pkl", func() []byte {
			p := new(pk).op(opProto, 2, opEmptyDict).str("a").tensor("FloatStorage", "0", 4, 0, []int32{4}, []int32{1})
			p.op(opSetItem).str("b").tensor("LongStorage", "0", 4, 0, []int32{4}, []int32{1})
			return p.op(opSetItem, opStop).Bytes()
		}(), zip.Store}}), []string{`storage "0" declared both as 4 F32 and as 4 I64 elements`}},
		{"bad byteorder", rezip(t, "dtypes.pth", keep, entry{"dtypes/byteorder", []byte("middle"), zip.Store}),
			[]string{"dtypes/byteorder", `"middle"`}},
		{"legacy truncated", legacy[:len(legacy)-10], []string{"legacy torch.save format", "truncated"}},
		{"legacy pickle truncated", legacy[:200], []string{"legacy torch.save format", "object pickle", "truncated"}},
		{"plain pickle", new(pk).op(opProto, 2).int(5).op(opStop).Bytes(), []string{"not one torch.save wrote"}},
		{"tar", func() []byte { b := make([]byte, 1024); copy(b[257:], "ustar"); return b }(), []string{"tar archive"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts, err := decodeBytes(c.data)
			if err == nil {
				t.Fatalf("no error; %d tensors", len(ts))
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			t.Log(err)
			if !strings.HasPrefix(err.Error(), "torch: ") {
				t.Errorf("error %q does not start with \"torch: \"", err)
			}
		})
	}
}

func TestReadNamesFile(t *testing.T) {
	path := filepath.Join("testdata", "disallowed.pth")
	_, err := Read(path)
	if err == nil || !strings.Contains(err.Error(), "torch "+path+": ") {
		t.Fatalf("error %v does not name %s", err, path)
	}
	_, err = Read(filepath.Join("testdata", "no-such-file.pth"))
	if err == nil || !strings.Contains(err.Error(), "no-such-file.pth") {
		t.Fatalf("error %v does not name the missing file", err)
	}
}

// TestTruncations cuts the pickles and the legacy file at every byte: each cut is an error, never a panic.
func TestTruncations(t *testing.T) {
	var pkl []byte
	for _, e := range unzip(t, readFile(t, "nested_state_dict.pth")) {
		if strings.HasSuffix(e.name, "data.pkl") {
			pkl = e.data
		}
	}
	for n := range len(pkl) {
		d := newDecoder(false)
		u := &unpickler{data: pkl[:n], persistentLoad: d.persistentLoad}
		if _, err := u.load(); err == nil {
			t.Fatalf("data.pkl cut to %d of %d bytes: no error", n, len(pkl))
		}
	}
	step := 1
	if testing.Short() {
		step = 7
	}
	legacy := readFile(t, "legacy.pth")
	for n := 0; n < len(legacy); n += step {
		if _, err := decodeBytes(legacy[:n]); err == nil {
			t.Fatalf("legacy.pth cut to %d of %d bytes: no error", n, len(legacy))
		}
	}
	resnext := readFile(t, "resnext.pth")
	for n := 0; n < len(resnext); n += 97 {
		if _, err := decodeBytes(resnext[:n]); err == nil {
			t.Fatalf("resnext.pth cut to %d of %d bytes: no error", n, len(resnext))
		}
	}
}

func TestStateDictLocation(t *testing.T) {
	w := func(p *pk) *pk { // {"w": a float32 tensor of 2 elements}
		return p.op(opEmptyDict).str("w").tensor("FloatStorage", "0", 2, 0, []int32{2}, []int32{1}).op(opSetItem)
	}
	cases := []struct {
		name  string
		build func(p *pk)
		want  []string // the tensor names, or nil for an error
		err   string
	}{
		{"top", func(p *pk) { w(p) }, []string{"w"}, ""},
		{"empty", func(p *pk) { p.op(opEmptyDict) }, []string{}, ""},
		{"module", func(p *pk) { w(p.op(opEmptyDict).str("module")).op(opSetItem) }, []string{"w"}, ""},
		{"model_state_dict", func(p *pk) {
			w(p.op(opEmptyDict).str("epoch").int(1).op(opSetItem).str("model_state_dict")).op(opSetItem)
		}, []string{"w"}, ""},
		{"model then state_dict", func(p *pk) {
			w(p.op(opEmptyDict).str("model").op(opEmptyDict).str("state_dict")).op(opSetItem, opSetItem)
		}, []string{"w"}, ""},
		{"state_dict preferred", func(p *pk) {
			p.op(opEmptyDict).str("model").int(5).op(opSetItem)
			w(p.str("state_dict")).op(opSetItem)
		}, []string{"w"}, ""},
		{"tensor", func(p *pk) { p.tensor("FloatStorage", "0", 2, 0, []int32{2}, []int32{1}) }, nil,
			"the saved object is a tensor, want a dict of tensors"},
		{"int key", func(p *pk) {
			p.op(opEmptyDict).int(0).tensor("FloatStorage", "0", 2, 0, []int32{2}, []int32{1}).op(opSetItem)
		}, nil, "the saved object holds 1 tensors, but item 0 has an int key: tensor names must be str"},
		{"wrapped non-dict", func(p *pk) { p.op(opEmptyDict).str("state_dict").op(opEmptyList, opSetItem) }, nil,
			`no state dict found: the saved object holds "state_dict" (list)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := makeZip(t, []entry{{"x/data.pkl", pickle(c.build), zip.Store}, {"x/data/0", f32s(2), zip.Store}})
			ts, err := decodeBytes(b)
			if c.want == nil {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			names := []string{}
			for _, x := range ts {
				names = append(names, x.Name)
			}
			if !slices.Equal(names, c.want) {
				t.Errorf("names %q, want %q", names, c.want)
			}
		})
	}
}
