package mindspore

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/resnext/resnext/ckpt/internal/quote"
	"github.com/resnext/resnext/ckpt/safetensors"
)

// Field numbers of the schema.
const (
	fieldValue     protowire.Number = 1 // Checkpoint.value
	fieldTag       protowire.Number = 1 // Value.tag
	fieldTensor    protowire.Number = 2 // Value.tensor
	fieldMapTensor protowire.Number = 3 // Value.maptensor (newer MindSpore)
	fieldDims      protowire.Number = 1 // TensorProto.dims
	fieldType      protowire.Number = 2 // TensorProto.tensor_type
	fieldContent   protowire.Number = 3 // TensorProto.tensor_content
)

// Read reads and checks the MindSpore checkpoint at path. Errors name the file and, where one is at
// fault, the tag.
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mindspore: %w", err)
	}
	f, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("mindspore %s: %w", path, err)
	}
	return f, nil
}

// Decode parses and checks a checkpoint held in data. Tensors stored in one Value share data's
// memory; sliced tensors are concatenated into new buffers.
func Decode(data []byte) (*File, error) {
	f, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("mindspore: %w", err)
	}
	return f, nil
}

// value is one Value as stored, before slices are joined.
type value struct {
	index, offset int // position in the file, for messages
	tag           string
	hasTag        bool
	hasTensor     bool
	hasType       bool
	mapTensor     bool
	dims          []int64
	tensorType    string
	content       []byte
}

// where names a value in messages: its tag when it has one, else its position.
func (v *value) where() string {
	if v.hasTag {
		return fmt.Sprintf("tag %s", quote.String(v.tag))
	}
	return fmt.Sprintf("value %d (at byte %d)", v.index, v.offset)
}

func decode(data []byte) (*File, error) {
	if len(data) == 0 {
		return nil, errors.New("empty file: not a checkpoint (or one whose write never finished)")
	}
	if data[0] != byte(protowire.EncodeTag(fieldValue, protowire.BytesType)) {
		return nil, fmt.Errorf("not a MindSpore checkpoint: it starts with bytes % x, a .ckpt starts with 0a (an encrypted checkpoint, or another format?)",
			data[:min(len(data), 8)])
	}
	f := &File{Strings: map[string]string{}}
	seen := map[string]int{} // tag -> index of its first value
	var group []*value       // the consecutive values of the current tag
	for off, index := 0, 0; off < len(data); index++ {
		num, typ, n := protowire.ConsumeTag(data[off:])
		if n < 0 || num != fieldValue || typ != protowire.BytesType {
			return nil, fmt.Errorf("not a MindSpore checkpoint, or damaged at byte %d (after %d values): %s",
				off, index, describeField(num, typ, n))
		}
		body, m := protowire.ConsumeBytes(data[off+n:])
		if m < 0 {
			return nil, truncated(data[off+n:], index, off)
		}
		v, err := parseValue(body, index, off)
		if err != nil {
			return nil, err
		}
		off += n + m

		if len(group) > 0 && group[0].tag != v.tag {
			if err := f.add(group); err != nil {
				return nil, err
			}
			group = group[:0]
		}
		if len(group) == 0 {
			if first, dup := seen[v.tag]; dup {
				return nil, fmt.Errorf("tag %s appears twice: at values %d and %d, with other tags between them", quote.String(v.tag), first, index)
			}
			seen[v.tag] = index
		}
		group = append(group, v)
	}
	if err := f.add(group); err != nil {
		return nil, err
	}
	return f, nil
}

// describeField says what is wrong with a field header where a Value was expected.
func describeField(num protowire.Number, typ protowire.Type, n int) string {
	if n < 0 {
		if errors.Is(protowire.ParseError(n), io.ErrUnexpectedEOF) {
			return "truncated in the middle of a field header"
		}
		return fmt.Sprintf("bad field header: %v", protowire.ParseError(n))
	}
	return fmt.Sprintf("found protobuf field %d with wire type %d where a Value (field 1, wire type 2) belongs", num, typ)
}

// truncated describes a Value whose declared length runs past the end of the file, naming its tag
// when the bytes that remain hold it.
func truncated(rest []byte, index, off int) error {
	length, n := protowire.ConsumeVarint(rest)
	if n < 0 {
		return fmt.Errorf("truncated: value %d at byte %d: its length is cut short", index, off)
	}
	what := fmt.Sprintf("value %d at byte %d", index, off)
	if num, typ, k := protowire.ConsumeTag(rest[n:]); k > 0 && num == fieldTag && typ == protowire.BytesType {
		if tag, m := protowire.ConsumeBytes(rest[n+k:]); m > 0 && utf8.Valid(tag) {
			what = fmt.Sprintf("tag %s (value %d at byte %d)", quote.Bytes(tag), index, off)
		}
	}
	return fmt.Errorf("truncated: %s declares %d bytes, but only %d remain in the file", what, length, len(rest)-n)
}

// parseValue parses one Value message.
func parseValue(b []byte, index, off int) (*value, error) {
	v := &value{index: index, offset: off}
	err := eachField(b, func(num protowire.Number, typ protowire.Type, field []byte) error {
		switch num {
		case fieldTag:
			if typ != protowire.BytesType {
				return wireTypeError("tag", typ)
			}
			if !utf8.Valid(field) {
				return fmt.Errorf("tag %s is not valid UTF-8", quote.Bytes(field))
			}
			v.tag, v.hasTag = string(field), true
		case fieldTensor:
			if typ != protowire.BytesType {
				return wireTypeError("tensor", typ)
			}
			v.hasTensor = true
			return parseTensor(field, v)
		case fieldMapTensor:
			v.mapTensor = true
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: %w", v.where(), err)
	case !v.hasTag:
		return nil, fmt.Errorf("%s has no tag", v.where())
	case v.mapTensor && !v.hasTensor:
		return nil, fmt.Errorf("tag %s holds a map tensor (a MindSpore MapParameter), which this reader does not support", quote.String(v.tag))
	case !v.hasTensor:
		return nil, fmt.Errorf("tag %s has no tensor", quote.String(v.tag))
	case !v.hasType:
		return nil, fmt.Errorf("tag %s: the tensor has no tensor_type", quote.String(v.tag))
	}
	return v, nil
}

// parseTensor parses a TensorProto into v. A second TensorProto in the same Value merges into the
// first, as protobuf defines.
func parseTensor(b []byte, v *value) error {
	return eachField(b, func(num protowire.Number, typ protowire.Type, field []byte) error {
		switch num {
		case fieldDims:
			switch typ {
			case protowire.VarintType: // unpacked, the proto2 default
				d, _ := protowire.ConsumeVarint(field)
				v.dims = append(v.dims, int64(d))
			case protowire.BytesType: // packed
				for len(field) > 0 {
					d, n := protowire.ConsumeVarint(field)
					if n < 0 {
						return fmt.Errorf("bad packed dims: %v", protowire.ParseError(n))
					}
					v.dims = append(v.dims, int64(d))
					field = field[n:]
				}
			default:
				return wireTypeError("dims", typ)
			}
		case fieldType:
			if typ != protowire.BytesType {
				return wireTypeError("tensor_type", typ)
			}
			v.tensorType, v.hasType = string(field), true
		case fieldContent:
			if typ != protowire.BytesType {
				return wireTypeError("tensor_content", typ)
			}
			v.content = field
		}
		return nil
	})
}

// eachField calls fn with every field of a message: its number, wire type and value bytes (the
// payload of a length-delimited field, the varint's encoding otherwise). Unknown fields reach fn
// too, which ignores them.
func eachField(b []byte, fn func(protowire.Number, protowire.Type, []byte) error) error {
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return fmt.Errorf("bad field header at byte %d of the message: %v", off, protowire.ParseError(n))
		}
		var field []byte
		var m int
		if typ == protowire.BytesType {
			field, m = protowire.ConsumeBytes(b[off+n:])
		} else {
			m = protowire.ConsumeFieldValue(num, typ, b[off+n:])
			if m >= 0 {
				field = b[off+n : off+n+m]
			}
		}
		if m < 0 {
			return fmt.Errorf("field %d at byte %d of the message: %v", num, off, protowire.ParseError(m))
		}
		if err := fn(num, typ, field); err != nil {
			return err
		}
		off += n + m
	}
	return nil
}

func wireTypeError(field string, typ protowire.Type) error {
	return fmt.Errorf("field %s has wire type %d, which it cannot have (not a checkpoint?)", field, typ)
}

// add joins the consecutive values of one tag and stores the tensor or string they hold.
func (f *File) add(group []*value) error {
	first := group[0]
	for i, v := range group[1:] {
		if v.tensorType != first.tensorType {
			return fmt.Errorf("tensor %s: slice %d has tensor_type %s, slice 0 has %s", quote.String(first.tag), i+1,
				quote.String(v.tensorType), quote.String(first.tensorType))
		}
	}
	content := first.content
	if len(group) > 1 {
		n := 0
		for _, v := range group {
			n += len(v.content)
		}
		content = make([]byte, 0, n)
		for _, v := range group {
			content = append(content, v.content...)
		}
	}
	switch first.tensorType {
	case TypeString:
		s, err := decodeString(group, content)
		if err != nil {
			return fmt.Errorf("string %s: %w", quote.String(first.tag), err)
		}
		f.Strings[first.tag] = s
		return nil
	case TypeRandomOp:
		f.Tensors = append(f.Tensors, Tensor{Name: first.tag, DType: safetensors.U8, Shape: []int{len(content)}, Data: content})
		return nil
	}
	dtype, err := DType(first.tensorType)
	if err != nil {
		return fmt.Errorf("tensor %s: %w", quote.String(first.tag), err)
	}
	shape, err := resolveShape(group, len(content), safetensors.DTypeSize(dtype))
	if err != nil {
		return fmt.Errorf("tensor %s: %w", quote.String(first.tag), err)
	}
	f.Tensors = append(f.Tensors, Tensor{Name: first.tag, DType: dtype, Shape: shape, Data: content})
	return nil
}

// resolveShape returns the shape of a tensor stored in the given values, whose contents hold size
// bytes in all. Either every slice carries the dims of the whole tensor (what MindSpore writes), or
// each carries its own and the whole is their concatenation along the first dimension.
func resolveShape(group []*value, size, elem int) ([]int, error) {
	dims := group[0].dims
	same := true
	for _, v := range group[1:] {
		same = same && slices.Equal(v.dims, dims)
	}
	if same {
		shape, need, err := toShape(dims, elem)
		if err != nil {
			return nil, err
		}
		switch {
		case need == uint64(size):
			return shape, nil
		case len(dims) == 1 && dims[0] == 0 && size == elem: // a scalar written as dims [0]
			return []int{}, nil
		}
		if len(group) > 1 {
			return nil, fmt.Errorf("content size mismatch: %d slices hold %d bytes, but %s %s needs %d",
				len(group), size, group[0].tensorType, quote.Ints(shape), need)
		}
		return nil, fmt.Errorf("content size mismatch: tensor_content has %d bytes, but %s %s needs %d",
			size, group[0].tensorType, quote.Ints(shape), need)
	}
	// Slices with their own dims: the same rank and trailing dims, each content matching its dims.
	var rows int
	for i, v := range group {
		if len(v.dims) != len(dims) || len(dims) == 0 || !slices.Equal(v.dims[1:], dims[1:]) {
			return nil, fmt.Errorf("slices disagree on dims: slice %d has %s, slice 0 has %s", i, quote.Ints(v.dims), quote.Ints(dims))
		}
		shape, need, err := toShape(v.dims, elem)
		if err != nil {
			return nil, fmt.Errorf("slice %d: %w", i, err)
		}
		if need != uint64(len(v.content)) {
			return nil, fmt.Errorf("content size mismatch: slice %d has %d bytes, but %s %s needs %d",
				i, len(v.content), v.tensorType, quote.Ints(shape), need)
		}
		if shape[0] > math.MaxInt-rows { // possible only for zero-size slices
			return nil, fmt.Errorf("slices hold more than %d rows", math.MaxInt)
		}
		rows += shape[0]
	}
	shape := make([]int, len(dims))
	shape[0] = rows
	for i := 1; i < len(dims); i++ {
		shape[i] = int(dims[i])
	}
	return shape, nil
}

// toShape converts dims to a shape and returns the byte size of a tensor of that shape, checking
// for negative dimensions and overflow.
func toShape(dims []int64, elem int) ([]int, uint64, error) {
	shape := make([]int, len(dims))
	n := uint64(elem)
	for i, d := range dims {
		if d < 0 {
			return nil, 0, fmt.Errorf("dims %s has a negative dimension", quote.Ints(dims))
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 || uint64(d) > math.MaxInt {
			return nil, 0, fmt.Errorf("dims %s is too large: its size overflows 64 bits", quote.Ints(dims))
		}
		n = lo
		shape[i] = int(d)
	}
	return shape, n, nil
}

// decodeString decodes a string entry: NumPy's UTF-32LE form with trailing NULs as padding.
func decodeString(group []*value, content []byte) (string, error) {
	if d := group[0].dims; len(d) > 1 || len(d) == 1 && d[0] != 0 {
		return "", fmt.Errorf("dims %s, want [0] or none", quote.Ints(d))
	}
	if len(content)%4 != 0 {
		return "", fmt.Errorf("content has %d bytes, not a multiple of 4 (UTF-32)", len(content))
	}
	rs := make([]rune, 0, len(content)/4)
	for i := 0; i < len(content); i += 4 {
		c := uint32(content[i]) | uint32(content[i+1])<<8 | uint32(content[i+2])<<16 | uint32(content[i+3])<<24
		if c > utf8.MaxRune || 0xd800 <= c && c < 0xe000 {
			return "", fmt.Errorf("character %d is %#x, not a Unicode code point", i/4, c)
		}
		rs = append(rs, rune(c))
	}
	for len(rs) > 0 && rs[len(rs)-1] == 0 {
		rs = rs[:len(rs)-1]
	}
	return string(rs), nil
}
