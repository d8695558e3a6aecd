// Package safetensors reads and writes the safetensors tensor file format.
//
// A file is an 8-byte little-endian header length N, then N bytes of UTF-8 JSON, then the raw tensor
// data. The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the start of the data) and may hold a "__metadata__" object of string values. Data is
// little-endian in C order.
//
// Decode and Read check everything a hostile or damaged file could get wrong (header length, JSON,
// dtypes, shapes, offsets that leave gaps, overlap or overflow, sizes that do not match the shape)
// and return an error naming the file and the tensor; they never panic. Write lays files out as the
// reference implementation does: the header padded with spaces to a multiple of 8 bytes, and the data
// ordered by decreasing element size then by name, so every tensor is aligned to its element size.
//
// The package depends only on ops (for half-precision conversions), internal/atomicfile (the
// atomic file write every file writer shares) and ckpt/internal/quote (error messages quote at most
// 64 bytes of a name), so any layer above ops, and the tests of ops itself, may use it.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/resnext/resnext/ckpt/internal/quote"
	"github.com/resnext/resnext/internal/atomicfile"
)

// MaxHeaderSize is the largest JSON header accepted (100 MB, the reference implementation's limit).
const MaxHeaderSize = 100_000_000

// MetadataKey is the reserved header key holding the file's free-form string metadata.
const MetadataKey = "__metadata__"

// The element types of the format, as spelled in the header.
const (
	BOOL    = "BOOL"
	U8      = "U8"
	I8      = "I8"
	F8E5M2  = "F8_E5M2"
	F8E4M3  = "F8_E4M3"
	I16     = "I16"
	U16     = "U16"
	F16     = "F16"
	BF16    = "BF16"
	I32     = "I32"
	U32     = "U32"
	F32     = "F32"
	F64     = "F64"
	I64     = "I64"
	U64     = "U64"
	dtNames = "BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64"
)

var dtypeSizes = map[string]int{
	BOOL: 1, U8: 1, I8: 1, F8E5M2: 1, F8E4M3: 1,
	I16: 2, U16: 2, F16: 2, BF16: 2,
	I32: 4, U32: 4, F32: 4,
	F64: 8, I64: 8, U64: 8,
}

// DTypeSize returns the size in bytes of one element of dtype, or 0 when the dtype is unknown.
func DTypeSize(dtype string) int { return dtypeSizes[dtype] }

// Tensor is one named array of a file.
type Tensor struct {
	// Name is the tensor's key in the header.
	Name string
	// DType is the element type (F32, F16, BF16, I32, I64, U8, BOOL, F64, ...).
	DType string
	// Shape is the size of each dimension, outermost first; empty for a scalar.
	Shape []int
	// Data holds the elements, little-endian, C order: exactly Numel()*DTypeSize(DType) bytes.
	// Tensors returned by Decode share the decoded buffer.
	Data []byte
}

// Numel is the number of elements (the product of the shape; 1 for a scalar).
func (t Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is the content of a safetensors file.
type File struct {
	// Metadata is the free-form "__metadata__" map; nil or empty writes none.
	Metadata map[string]string
	// Tensors maps each name to its tensor. A tensor's Name, when set, must equal its key.
	Tensors map[string]Tensor
}

// New returns an empty file ready for Add.
func New() *File {
	return &File{Metadata: map[string]string{}, Tensors: map[string]Tensor{}}
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for n := range f.Tensors {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Tensor returns the tensor called name, or an error saying it is missing.
func (f *File) Tensor(name string) (Tensor, error) {
	t, ok := f.Tensors[name]
	if !ok {
		return Tensor{}, fmt.Errorf("safetensors: no tensor %s (the file has %d tensors)", quote.String(name), len(f.Tensors))
	}
	if t.Name == "" {
		t.Name = name
	}
	return t, nil
}

// Add checks t and stores it under t.Name, replacing any tensor of that name.
func (f *File) Add(t Tensor) error {
	if err := t.check(); err != nil {
		return err
	}
	if f.Tensors == nil {
		f.Tensors = map[string]Tensor{}
	}
	f.Tensors[t.Name] = t
	return nil
}

// check validates a tensor about to be written.
func (t Tensor) check() error {
	if t.Name == "" {
		return errors.New("safetensors: tensor with an empty name")
	}
	if t.Name == MetadataKey {
		return fmt.Errorf("safetensors: tensor name %s is reserved for metadata", quote.String(t.Name))
	}
	if !utf8.ValidString(t.Name) {
		return fmt.Errorf("safetensors: tensor name %s is not valid UTF-8", quote.String(t.Name))
	}
	size := DTypeSize(t.DType)
	if size == 0 {
		return fmt.Errorf("safetensors: tensor %s: unknown dtype %s, want one of %s", quote.String(t.Name), quote.String(t.DType), dtNames)
	}
	n, err := numelBytes(t.Shape, size)
	if err != nil {
		return fmt.Errorf("safetensors: tensor %s: %w", quote.String(t.Name), err)
	}
	if uint64(len(t.Data)) != n {
		return fmt.Errorf("safetensors: tensor %s: %d bytes of data for %s %s, want %d",
			quote.String(t.Name), len(t.Data), t.DType, quote.Ints(t.Shape), n)
	}
	return nil
}

// numelBytes returns the byte size of a tensor of the given shape and element size, checking that
// the dimensions are non-negative and the product does not overflow.
func numelBytes(shape []int, size int) (uint64, error) {
	n := uint64(size)
	for i, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %s has a negative dimension %d at index %d", quote.Ints(shape), d, i)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("shape %s is too large: its size overflows 64 bits", quote.Ints(shape))
		}
		n = lo
	}
	return n, nil
}

// Read reads and validates the safetensors file at path. Errors name the file and, where one is at
// fault, the tensor.
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("safetensors %s: %w", path, err)
	}
	return f, nil
}

// Decode parses and validates a safetensors file held in data. The returned tensors share data's
// memory.
func Decode(data []byte) (*File, error) {
	f, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return f, nil
}

// headerEntry is one tensor's description in the JSON header.
type headerEntry struct {
	DType   *string  `json:"dtype"`
	Shape   *[]int   `json:"shape"`
	Offsets *[]int64 `json:"data_offsets"`
}

// span is the byte range of one tensor in the data section.
type span struct {
	name       string
	begin, end uint64
}

func decode(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("truncated: %d bytes, shorter than the 8-byte header length", len(data))
	}
	hlen := binary.LittleEndian.Uint64(data)
	rest := uint64(len(data) - 8)
	switch {
	case hlen > MaxHeaderSize:
		return nil, fmt.Errorf("bad header length %d: larger than the %d-byte limit (not a safetensors file?)", hlen, MaxHeaderSize)
	case hlen > rest:
		return nil, fmt.Errorf("truncated: header length %d but only %d bytes follow it", hlen, rest)
	case hlen < 2:
		return nil, fmt.Errorf("bad header length %d: too short for a JSON object", hlen)
	}
	header := data[8 : 8+hlen]
	body := data[8+hlen:]
	if header[0] != '{' {
		return nil, fmt.Errorf("bad header: does not start with '{' (not a safetensors file?)")
	}
	if !utf8.Valid(header) {
		return nil, fmt.Errorf("bad header: not valid UTF-8")
	}
	raw, err := parseObject(header)
	if err != nil {
		return nil, fmt.Errorf("bad header JSON: %w", err)
	}

	f := &File{Metadata: map[string]string{}, Tensors: make(map[string]Tensor, len(raw))}
	spans := make([]span, 0, len(raw))
	for _, kv := range raw {
		if kv.key == MetadataKey {
			if err := json.Unmarshal(kv.value, &f.Metadata); err != nil {
				return nil, fmt.Errorf("bad header: %s must map strings to strings: %w", MetadataKey, err)
			}
			if f.Metadata == nil { // "__metadata__": null
				f.Metadata = map[string]string{}
			}
			continue
		}
		t, s, err := parseEntry(kv.key, kv.value)
		if err != nil {
			return nil, fmt.Errorf("tensor %s: %w", quote.String(kv.key), err)
		}
		f.Tensors[kv.key] = t
		spans = append(spans, s)
	}

	// The data section must be covered exactly: no gaps, no overlaps, nothing past the end.
	slices.SortFunc(spans, func(a, b span) int {
		if a.begin != b.begin {
			if a.begin < b.begin {
				return -1
			}
			return 1
		}
		if a.end != b.end {
			if a.end < b.end {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	var pos uint64
	for i, s := range spans {
		switch {
		case s.end > uint64(len(body)):
			return nil, fmt.Errorf("tensor %s: data_offsets [%d, %d] out of range: the data section has %d bytes",
				quote.String(s.name), s.begin, s.end, len(body))
		case s.begin < pos:
			return nil, fmt.Errorf("tensor %s: data_offsets [%d, %d] overlap tensor %s, which ends at %d",
				quote.String(s.name), s.begin, s.end, quote.String(spans[i-1].name), pos)
		case s.begin > pos:
			return nil, fmt.Errorf("tensor %s: data_offsets [%d, %d] leave a gap: the previous tensor ends at %d",
				quote.String(s.name), s.begin, s.end, pos)
		}
		t := f.Tensors[s.name]
		t.Data = body[s.begin:s.end:s.end]
		f.Tensors[s.name] = t
		pos = s.end
	}
	if pos != uint64(len(body)) {
		return nil, fmt.Errorf("%d bytes of data after the last tensor (which ends at %d of %d): truncated header or trailing garbage",
			uint64(len(body))-pos, pos, len(body))
	}
	return f, nil
}

// parseEntry checks one tensor entry of the header and returns the tensor (without data) and its span.
func parseEntry(name string, raw json.RawMessage) (Tensor, span, error) {
	var e headerEntry
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&e); err != nil {
		return Tensor{}, span{}, fmt.Errorf("bad entry %.100s: %w", raw, err)
	}
	switch {
	case e.DType == nil:
		return Tensor{}, span{}, errors.New(`entry has no "dtype"`)
	case e.Shape == nil:
		return Tensor{}, span{}, errors.New(`entry has no "shape"`)
	case e.Offsets == nil:
		return Tensor{}, span{}, errors.New(`entry has no "data_offsets"`)
	}
	size := DTypeSize(*e.DType)
	if size == 0 {
		return Tensor{}, span{}, fmt.Errorf("unknown dtype %s, want one of %s", quote.String(*e.DType), dtNames)
	}
	want, err := numelBytes(*e.Shape, size)
	if err != nil {
		return Tensor{}, span{}, err
	}
	off := *e.Offsets
	if len(off) != 2 {
		return Tensor{}, span{}, fmt.Errorf("data_offsets %s: want [begin, end]", quote.Ints(off))
	}
	if off[0] < 0 || off[1] < off[0] {
		return Tensor{}, span{}, fmt.Errorf("data_offsets [%d, %d]: want 0 <= begin <= end", off[0], off[1])
	}
	if got := uint64(off[1] - off[0]); got != want {
		return Tensor{}, span{}, fmt.Errorf("wrong size: data_offsets [%d, %d] hold %d bytes, but %s %s needs %d",
			off[0], off[1], got, *e.DType, quote.Ints(*e.Shape), want)
	}
	shape := *e.Shape
	if shape == nil {
		shape = []int{}
	}
	return Tensor{Name: name, DType: *e.DType, Shape: shape},
		span{name: name, begin: uint64(off[0]), end: uint64(off[1])}, nil
}

type keyValue struct {
	key   string
	value json.RawMessage
}

// parseObject splits a JSON object into its members in order, rejecting duplicate keys and anything
// but whitespace after the closing brace.
func parseObject(src []byte) ([]keyValue, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("want an object, got %v", tok)
	}
	var out []keyValue
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("want a key, got %v", tok)
		}
		if seen[key] {
			return nil, fmt.Errorf("key %s appears twice", quote.String(key))
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("value of %s: %w", quote.String(key), err)
		}
		out = append(out, keyValue{key, v})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	tail := src[dec.InputOffset():]
	if len(bytes.TrimLeft(tail, " \t\r\n")) != 0 {
		return nil, fmt.Errorf("unexpected bytes after the header object: %.20q", tail)
	}
	return out, nil
}

// Encode returns the file in safetensors form: names sorted within each element size, larger
// elements first, and the header padded with spaces to a multiple of 8 bytes.
func (f *File) Encode() ([]byte, error) {
	ts, header, err := f.header()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(header) + int(dataSize(ts)))
	writeBody(&buf, header, ts) // a bytes.Buffer does not fail
	return buf.Bytes(), nil
}

// layout returns the tensors in file order after checking each of them.
func (f *File) layout() ([]Tensor, error) {
	ts := make([]Tensor, 0, len(f.Tensors))
	for key, t := range f.Tensors {
		if t.Name == "" {
			t.Name = key
		}
		if t.Name != key {
			return nil, fmt.Errorf("safetensors: tensor stored under %s is named %s", quote.String(key), quote.String(t.Name))
		}
		if err := t.check(); err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b Tensor) int {
		if sa, sb := DTypeSize(a.DType), DTypeSize(b.DType); sa != sb {
			return sb - sa
		}
		return strings.Compare(a.Name, b.Name)
	})
	return ts, nil
}

// dataSize is the length of the data section holding ts.
func dataSize(ts []Tensor) uint64 {
	var n uint64
	for _, t := range ts {
		n += uint64(len(t.Data))
	}
	return n
}

// header checks the file and returns its tensors in file order and the 8-byte length followed by
// the padded JSON header.
func (f *File) header() ([]Tensor, []byte, error) {
	ts, err := f.layout()
	if err != nil {
		return nil, nil, err
	}
	var h bytes.Buffer
	h.Write(make([]byte, 8)) // the length, filled in below
	h.WriteByte('{')
	if len(f.Metadata) > 0 {
		m, err := json.Marshal(f.Metadata) // keys sorted
		if err != nil {
			return nil, nil, fmt.Errorf("safetensors: metadata: %w", err)
		}
		h.WriteString(`"` + MetadataKey + `":`)
		h.Write(m)
	}
	var off uint64
	for i, t := range ts {
		if i > 0 || len(f.Metadata) > 0 {
			h.WriteByte(',')
		}
		name, _ := json.Marshal(t.Name)
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		sh, _ := json.Marshal(shape)
		end := off + uint64(len(t.Data))
		fmt.Fprintf(&h, `%s:{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]}`, name, t.DType, sh, off, end)
		off = end
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	n := h.Len() - 8
	if n > MaxHeaderSize {
		return nil, nil, fmt.Errorf("safetensors: header of %d bytes exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	out := h.Bytes()
	binary.LittleEndian.PutUint64(out, uint64(n))
	return ts, out, nil
}

// writeBody writes the header and then the data of ts, in order.
func writeBody(w io.Writer, header []byte, ts []Tensor) error {
	if _, err := w.Write(header); err != nil {
		return err
	}
	for _, t := range ts {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// Write saves the file at path atomically: it writes a temporary file in the same directory, syncs
// it, and renames it over path, so readers see either the old file or the whole new one.
func (f *File) Write(path string) error {
	ts, header, err := f.header()
	if err != nil {
		return fmt.Errorf("%w (writing %s)", err, path)
	}
	err = atomicfile.Write(path, func(w io.Writer) error { return writeBody(w, header, ts) })
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}
