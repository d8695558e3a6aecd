// Package torch reads the tensors of PyTorch checkpoints as torch.save writes them.
//
// Two layouts are read. Since torch 1.6 a checkpoint is a zip archive: <folder>/data.pkl (a pickle of the
// saved object, whose tensors refer to their storages by key), <folder>/data/<key> (each storage's raw
// bytes), <folder>/version and, in newer versions, <folder>/byteorder; the folder's name varies (the
// file's base name, or "archive"). Before 1.6 (and with _use_new_zipfile_serialization=False) it is a
// sequence of pickles (magic number, protocol version, system information, the object, the storage keys)
// followed by each storage's element count and bytes.
//
// The saved object must hold a state dict: a dict or OrderedDict of names to tensors, at the top or
// nested as {"state_dict": {...}} or {"model": {...}} as training scripts and timm save it (also
// "model_state_dict" and "module"). Tensors of float64, float32, float16, bfloat16, int64, int32, int16,
// int8, uint8 and bool are read, with any storage offset and strides (views, transposes, expanded
// tensors, slices of a storage several tensors share) and 0-d scalars such as BatchNorm's
// num_batches_tracked; each is returned in C order.
//
// The pickle is decoded by a small interpreter of its opcodes that never runs anything: the only Python
// names it accepts are an allow-list (collections.OrderedDict, torch's storage classes, and the
// functions that rebuild tensors and parameters). Any other name, such as the class of a whole pickled
// model or an argparse.Namespace in a training checkpoint, is an error that names it. Damaged or
// hostile files give errors naming the file and the entry or tensor at fault; the decoder does not
// panic, and it bounds what it allocates by what the file holds. It bounds its work too: opcodes,
// memo entries and the size of ints in a pickle are limited, and dict keys are hashed within a
// budget (values built from shared references can be exponentially larger than the pickle); a
// compressed zip entry may inflate to at most maxRatio times its compressed size. Each limit's error
// names the constant that sets it. Errors quote at most 64 bytes of any text from the file.
package torch

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"strings"

	"github.com/resnext/resnext/ckpt/internal/quote"
	"github.com/resnext/resnext/ckpt/safetensors"
)

// Read reads the state dict of the PyTorch checkpoint at path and returns its tensors in the file's
// order. Errors name the file and, where one is at fault, the zip entry or tensor.
func Read(path string) ([]safetensors.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("torch: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("torch: %w", err)
	}
	ts, err := decode(f, info.Size())
	if err != nil {
		return nil, fmt.Errorf("torch %s: %w", path, err)
	}
	return ts, nil
}

// Decode reads the state dict of a PyTorch checkpoint of size bytes held in r and returns its tensors
// in the file's order. The tensors' data does not alias r.
func Decode(r io.ReaderAt, size int64) ([]safetensors.Tensor, error) {
	ts, err := decode(r, size)
	if err != nil {
		return nil, fmt.Errorf("torch: %w", err)
	}
	return ts, nil
}

// legacyMagic is the first pickle of a pre-1.6 checkpoint.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

const legacyProtocol = 1001

// maxPickle bounds the size of data.pkl.
const maxPickle = 1 << 30

// expandSlack is how many bytes the tensors may occupy beyond four times the storages they view
// (expanded tensors with zero strides are larger than their storage). A variable for the fuzz
// tests, which lower it.
var expandSlack int64 = 256 << 20

func decode(r io.ReaderAt, size int64) ([]safetensors.Tensor, error) {
	if size < 0 {
		return nil, fmt.Errorf("negative size %d", size)
	}
	if size == 0 {
		return nil, errors.New("empty file")
	}
	head := make([]byte, min(size, 512))
	if n, err := r.ReadAt(head, 0); n < len(head) {
		return nil, fmt.Errorf("reading the first %d bytes: %w", len(head), err)
	}
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return decodeZip(r, size)
	case head[0] == opProto:
		return decodeLegacy(r, size)
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return nil, errors.New("a tar archive: the oldest torch.save format is not supported; " +
			"load it with torch and save it again with torch >= 1.6")
	case len(head) >= 9 && head[8] == '{':
		return nil, errors.New("not a PyTorch checkpoint: this looks like a safetensors file; read it as one")
	}
	return nil, fmt.Errorf("not a PyTorch checkpoint: it starts with %q, want a zip archive (torch >= 1.6) "+
		"or a pickle (older torch)", head[:min(len(head), 8)])
}

// decoder resolves a pickle's storages and turns its state dict into tensors.
type decoder struct {
	legacy   bool
	storages map[string]*storage
	// load fills a storage's data.
	load func(*storage) error
	// stored and produced count the bytes of the storages loaded and of the tensors made, to bound
	// what views that expand their storage may allocate: produced stays within 4*stored + slack.
	stored, produced, slack int64
}

func newDecoder(legacy bool) *decoder {
	return &decoder{legacy: legacy, storages: map[string]*storage{}, slack: expandSlack}
}

// persistentLoad resolves a BINPERSID id: ('storage', storage_type, key, location, numel), plus the
// view_metadata (always None) in the legacy format.
func (d *decoder) persistentLoad(pid any) (any, error) {
	t, ok := pid.(tuple)
	if !ok || len(t) == 0 {
		return nil, fmt.Errorf("persistent id is %s, want a tuple", aType(pid))
	}
	tag, _ := t[0].(string)
	switch tag {
	case "storage":
	case "module":
		return nil, errors.New("the file holds a whole pickled model (torch.save(model)); " +
			"load it in Python and save model.state_dict() instead")
	default:
		return nil, fmt.Errorf("persistent id of unknown kind %s, want \"storage\"", quote.String(tag))
	}
	want := 5
	if d.legacy {
		want = 6
	}
	if len(t) != want {
		return nil, fmt.Errorf("storage id has %d items, want %d", len(t), want)
	}
	g, ok := t[1].(*global)
	if !ok || g.kind != kindStorage {
		return nil, fmt.Errorf("storage id names %s, want a storage type", aType(t[1]))
	}
	key, ok1 := t[2].(string)
	loc, ok2 := t[3].(string)
	numel, ok3 := t[4].(int64)
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("storage id (%s, %s, %s): want a str key, a str location and an int size",
			typeName(t[2]), typeName(t[3]), typeName(t[4]))
	}
	if numel < 0 || numel > math.MaxInt64/int64(g.dtype.size) {
		return nil, fmt.Errorf("storage %s: bad size %d", quote.String(key), numel)
	}
	if d.legacy && t[5] != nil {
		return nil, fmt.Errorf("storage %s is a view of another storage (old torch): not supported; "+
			"load the file with torch and save it again", quote.String(key))
	}
	if st, ok := d.storages[key]; ok {
		if st.dtype != g.dtype || st.numel != numel {
			return nil, fmt.Errorf("storage %s declared both as %d %s and as %d %s elements",
				quote.String(key), st.numel, st.dtype.name, numel, g.dtype.name)
		}
		return st, nil
	}
	st := &storage{key: key, location: loc, dtype: g.dtype, numel: numel}
	d.storages[key] = st
	return st, nil
}

// wrapperKeys are the keys under which checkpoints nest their state dict, in order of preference.
var wrapperKeys = []string{"state_dict", "model", "model_state_dict", "module"}

// findStateDict returns the dict of tensors the saved object holds; where names v in errors.
func findStateDict(v any, where string, depth int) (*dict, error) {
	d, ok := v.(*dict)
	if !ok {
		return nil, fmt.Errorf("%s is %s, want a dict of tensors (a state dict)", where, aType(v))
	}
	bad := -1
	for i, k := range d.keys {
		_, isName := k.(string)
		_, isTensor := d.values[i].(*tensor)
		if !isName || !isTensor {
			bad = i
			break
		}
	}
	if bad < 0 {
		return d, nil
	}
	if depth < 3 {
		for _, k := range wrapperKeys {
			if inner, ok := d.get(k); ok {
				if sd, err := findStateDict(inner, fmt.Sprintf("%s[%s]", where, quote.String(k)), depth+1); err == nil {
					return sd, nil
				}
			}
		}
	}
	tensors := 0
	for _, v := range d.values {
		if _, ok := v.(*tensor); ok {
			tensors++
		}
	}
	if tensors > 0 {
		if _, ok := d.keys[bad].(string); !ok {
			return nil, fmt.Errorf("%s holds %d tensors, but item %d has %s key: tensor names must be str",
				where, tensors, bad, aType(d.keys[bad]))
		}
		return nil, fmt.Errorf("%s holds %d tensors, but its entry %s is %s: want a dict of tensors alone",
			where, tensors, quote.String(d.keys[bad].(string)), aType(d.values[bad]))
	}
	return nil, fmt.Errorf("no state dict found: %s holds %s; want a dict of tensors, at the top or under %q",
		where, describeItems(d), wrapperKeys)
}

// describeItems lists a dict's first keys and the types of their values.
func describeItems(d *dict) string {
	if len(d.keys) == 0 {
		return "nothing"
	}
	var b strings.Builder
	for i, k := range d.keys {
		if i == 8 {
			fmt.Fprintf(&b, ", ... (%d items)", len(d.keys))
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		if s, ok := k.(string); ok {
			b.WriteString(quote.String(s))
		} else {
			b.WriteString(typeName(k))
		}
		fmt.Fprintf(&b, " (%s)", typeName(d.values[i]))
	}
	return b.String()
}

// tensors materialises the state dict found in root.
func (d *decoder) tensors(root any) ([]safetensors.Tensor, error) {
	sd, err := findStateDict(root, "the saved object", 0)
	if err != nil {
		return nil, err
	}
	// Count the tensors that view each storage: a storage's data is dropped after its last use, and
	// handed over without a copy to a tensor that is its only, whole, contiguous view.
	uses := map[*storage]int{}
	for _, v := range sd.values {
		uses[v.(*tensor).storage]++
	}
	out := make([]safetensors.Tensor, 0, len(sd.keys))
	for i, k := range sd.keys {
		name := k.(string)
		t, err := d.materialise(sd.values[i].(*tensor), uses)
		if err != nil {
			return nil, fmt.Errorf("tensor %s: %w", quote.String(name), err)
		}
		t.Name = name
		out = append(out, t)
	}
	return out, nil
}

// materialise returns t's elements in C order, loading its storage on first use.
func (d *decoder) materialise(t *tensor, uses map[*storage]int) (safetensors.Tensor, error) {
	st := t.storage
	numel, err := t.check()
	if err != nil {
		return safetensors.Tensor{}, err
	}
	if !st.loaded {
		if err := d.load(st); err != nil {
			return safetensors.Tensor{}, err
		}
		st.loaded = true
		d.stored += st.nbytes()
	}
	n := numel * int64(st.dtype.size)
	if limit := 4*d.stored + d.slack; n > limit-d.produced {
		return safetensors.Tensor{}, fmt.Errorf("size %v with stride %v expands the file's %d bytes of storage "+
			"to more than %d bytes of tensors: not a plain state dict", t.shape, t.stride, d.stored, limit)
	}
	d.produced += n
	shape := make([]int, len(t.shape))
	for i, s := range t.shape {
		shape[i] = int(s)
	}
	var data []byte
	uses[st]--
	if uses[st] == 0 && t.offset == 0 && numel == st.numel && t.contiguous() {
		data = st.data[:n:n]
	} else {
		data = t.copyOut(numel)
	}
	if uses[st] == 0 {
		st.data = nil
	}
	return safetensors.Tensor{DType: st.dtype.name, Shape: shape, Data: data}, nil
}

// describeStorage says what a storage holds, for size errors.
func describeStorage(st *storage) string {
	return fmt.Sprintf("%d bytes (%d %s elements of storage %s)", st.nbytes(), st.numel, st.dtype.name, quote.String(st.key))
}

// decodeZip reads the zip layout of torch >= 1.6.
func decodeZip(r io.ReaderAt, size int64) ([]safetensors.Tensor, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, fmt.Errorf("not a readable zip archive (truncated or damaged file?): %w", err)
	}
	entries := make(map[string]*zip.File, len(zr.File))
	var folders []string
	for _, f := range zr.File {
		if _, dup := entries[f.Name]; dup {
			return nil, fmt.Errorf("zip entry %s appears twice (damaged file)", quote.String(f.Name))
		}
		entries[f.Name] = f
		if dir, base, ok := strings.Cut(f.Name, "/"); ok && dir != "" && base == "data.pkl" {
			folders = append(folders, dir)
		}
	}
	switch len(folders) {
	case 0:
		names := make([]string, 0, 5)
		for _, f := range zr.File[:min(len(zr.File), 5)] {
			names = append(names, quote.String(f.Name))
		}
		return nil, fmt.Errorf("a zip archive without a <folder>/data.pkl entry: not a torch.save checkpoint "+
			"(its %d entries start with %s)", len(zr.File), strings.Join(names, ", "))
	case 1:
	default:
		return nil, fmt.Errorf("a zip archive with %d data.pkl entries (in folders %s): want one", len(folders),
			quote.Clip(fmt.Sprintf("%q", folders)))
	}
	prefix := folders[0] + "/"
	if _, ok := entries[prefix+"constants.pkl"]; ok {
		return nil, errors.New("a TorchScript archive (torch.jit.save), not a torch.save checkpoint: " +
			"load it in Python and save model.state_dict() with torch.save")
	}

	bigEndian := false
	if f, ok := entries[prefix+"byteorder"]; ok {
		b, err := readEntry(f, -1, 64, size)
		if err != nil {
			return nil, err
		}
		switch strings.TrimSpace(string(b)) {
		case "little":
		case "big":
			bigEndian = true
		default:
			return nil, fmt.Errorf("%s: byte order %s, want \"little\" or \"big\"", quote.String(f.Name), quote.Bytes(b))
		}
	}

	pklName := prefix + "data.pkl"
	pkl, err := readEntry(entries[pklName], -1, maxPickle, size)
	if err != nil {
		return nil, err
	}
	d := newDecoder(false)
	d.load = func(st *storage) error {
		name := prefix + "data/" + st.key
		f, ok := entries[name]
		if !ok {
			return fmt.Errorf("the archive has no entry %s for storage %s", quote.String(name), quote.String(st.key))
		}
		data, err := readEntry(f, st.nbytes(), st.nbytes(), size)
		if errors.Is(err, errSize) {
			return fmt.Errorf("%w, want %s", err, describeStorage(st))
		} else if err != nil {
			return err
		}
		if bigEndian {
			swapBytes(data, st.dtype.size)
		}
		st.data = data
		return nil
	}
	u := &unpickler{data: pkl, persistentLoad: d.persistentLoad}
	root, err := u.load()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", quote.Clip(pklName), err)
	}
	return d.tensors(root)
}

// errSize marks an entry whose size differs from what the pickle declares.
var errSize = errors.New("wrong size")

const (
	// maxRatio bounds how many times larger than its compressed bytes a compressed entry may
	// inflate (torch stores its entries uncompressed; deflate reaches about 1000 on zeros), and
	// minInflate is what any entry may inflate to whatever its ratio.
	maxRatio   = 256
	minInflate = 1 << 20
)

// readEntry reads a zip entry whole; its errors name it. With want >= 0 the entry must hold exactly
// want bytes; otherwise it may hold at most limit bytes. A compressed entry may also inflate to at
// most maxRatio times its compressed size (or minInflate). The CRC is checked. Nothing is
// allocated on the strength of a size the archive declares beyond what the file holds.
func readEntry(f *zip.File, want, limit, fileSize int64) ([]byte, error) {
	data, err := readEntryData(f, want, limit, fileSize)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", quote.Clip(f.Name), err)
	}
	return data, nil
}

func readEntryData(f *zip.File, want, limit, fileSize int64) ([]byte, error) {
	if want >= 0 && f.UncompressedSize64 != uint64(want) {
		return nil, fmt.Errorf("%w: it holds %d bytes", errSize, f.UncompressedSize64)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if want >= 0 && f.Method == zip.Store && f.CompressedSize64 == uint64(want) && want <= fileSize {
		// Stored uncompressed, as torch writes: one allocation of the right size.
		data := make([]byte, want)
		if _, err := io.ReadFull(rc, data); err != nil {
			return nil, fmt.Errorf("reading: %w", err)
		}
		var one [1]byte
		if _, err := io.ReadFull(rc, one[:]); err != io.EOF { // EOF makes the reader check the CRC
			if err == nil {
				err = errors.New("more data than declared")
			}
			return nil, fmt.Errorf("reading: %w", err)
		}
		return data, nil
	}
	if want >= 0 {
		limit = want
	}
	ratioLimit := int64(math.MaxInt64)
	if f.Method != zip.Store {
		ratioLimit = minInflate
		if c := min(f.CompressedSize64, uint64(fileSize)); c <= (math.MaxInt64-minInflate)/maxRatio {
			ratioLimit += int64(c) * maxRatio
		}
	} else if fileSize < limit {
		limit = fileSize // stored bytes cannot outnumber the file's
	}
	data, err := io.ReadAll(io.LimitReader(rc, min(limit, ratioLimit)+1))
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	switch n := int64(len(data)); {
	case n > ratioLimit && ratioLimit < limit:
		return nil, fmt.Errorf("compressed entry of %d bytes inflates to more than %d bytes: more than %d times its size "+
			"(limit maxRatio in ckpt/torch; a zip bomb?)", f.CompressedSize64, ratioLimit, maxRatio)
	case n > limit:
		if want >= 0 {
			return nil, fmt.Errorf("%w: it holds more than %d bytes", errSize, want)
		}
		return nil, fmt.Errorf("larger than %d bytes", limit)
	case want >= 0 && n != want:
		return nil, fmt.Errorf("%w: it holds %d bytes", errSize, len(data))
	}
	return data, nil
}

// decodeLegacy reads the format of torch < 1.6: pickles of the magic number, the protocol version, the
// system information, the object and the sorted storage keys, then for each key the storage's element
// count (int64, little-endian) and its bytes.
func decodeLegacy(r io.ReaderAt, size int64) ([]safetensors.Tensor, error) {
	data, err := io.ReadAll(io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	u := &unpickler{data: data}
	magic, err := u.load()
	if m, ok := magic.(*big.Int); err != nil || !ok || m.Cmp(legacyMagic) != 0 {
		return nil, errors.New("not a PyTorch checkpoint: a pickle, but not one torch.save wrote " +
			"(no torch magic number; torch >= 1.6 writes a zip archive)")
	}
	const what = "legacy torch.save format (torch < 1.6)"
	proto, err := u.load()
	if err != nil {
		return nil, fmt.Errorf("%s: protocol version: %w", what, err)
	}
	if proto != int64(legacyProtocol) {
		return nil, fmt.Errorf("%s: protocol version %s, want %d: load the file with torch and save it again",
			what, describe(proto), legacyProtocol)
	}
	info, err := u.load()
	if err != nil {
		return nil, fmt.Errorf("%s: system info: %w", what, err)
	}
	if sys, ok := info.(*dict); ok {
		if le, ok := sys.get("little_endian"); ok && le != true {
			return nil, fmt.Errorf("%s: saved on a big-endian machine: not supported; "+
				"load the file with torch and save it again with torch >= 1.6", what)
		}
	}
	d := newDecoder(true)
	u.persistentLoad = d.persistentLoad
	root, err := u.load()
	if err != nil {
		return nil, fmt.Errorf("%s: object pickle: %w", what, err)
	}
	u.persistentLoad = nil
	keysV, err := u.load()
	if err != nil {
		return nil, fmt.Errorf("%s: storage keys: %w", what, err)
	}
	kl, ok := keysV.(*list)
	if !ok {
		return nil, fmt.Errorf("%s: storage keys are %s, want a list", what, aType(keysV))
	}
	pos := int64(u.pos)
	for i, kv := range kl.items {
		key, ok := kv.(string)
		if !ok {
			return nil, fmt.Errorf("%s: storage key %d is %s, want a str", what, i, aType(kv))
		}
		st, ok := d.storages[key]
		if !ok {
			return nil, fmt.Errorf("%s: storage %s has data but no tensor uses it (damaged file)", what, quote.String(key))
		}
		if st.loaded || st.data != nil {
			return nil, fmt.Errorf("%s: storage %s listed twice (damaged file)", what, quote.String(key))
		}
		if int64(len(data))-pos < 8 {
			return nil, fmt.Errorf("%s: truncated at byte %d: storage %s's size is missing", what, pos, quote.String(key))
		}
		n := int64(0)
		for j := 7; j >= 0; j-- {
			n = n<<8 | int64(data[pos+int64(j)])
		}
		pos += 8
		if n != st.numel {
			return nil, fmt.Errorf("%s: storage %s at byte %d holds %d elements, want %d (damaged file)",
				what, quote.String(key), pos-8, n, st.numel)
		}
		nb := st.nbytes()
		if int64(len(data))-pos < nb {
			return nil, fmt.Errorf("%s: truncated at byte %d: storage %s needs %s", what, pos, quote.String(key), describeStorage(st))
		}
		st.data = data[pos : pos+nb : pos+nb]
		pos += nb
	}
	d.load = func(st *storage) error {
		if st.data == nil && st.nbytes() > 0 {
			return fmt.Errorf("%s: storage %s has no data in the file", what, quote.String(st.key))
		}
		return nil
	}
	return d.tensors(root)
}
