package mindspore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/resnext/resnext/ckpt/safetensors"
	"github.com/resnext/resnext/internal/atomicfile"
)

// Options tunes how Encode and Write lay a checkpoint out. The zero value writes every tensor in
// one Value and scalars with no dims, as MindSpore 2.x does.
type Options struct {
	// SliceBytes, when positive, splits every tensor whose content is larger into consecutive
	// Values with the same tag, each holding whole rows of the first dimension and at most
	// SliceBytes bytes (or one row, when a row is larger), as newer MindSpore does for large
	// tensors. Each slice carries the dims of the whole tensor. MindSpore itself slices at 512 MiB.
	SliceBytes int
	// ScalarDimsZero writes scalars with dims [0], as MindSpore 1.x did, instead of no dims.
	ScalarDimsZero bool
}

// entry is one Value to write: a tag, a type, dims and the content.
type entry struct {
	tag        string
	tensorType string
	dims       []int64
	content    []byte
}

// Encode returns the checkpoint in .ckpt form.
func (f *File) Encode(opt Options) ([]byte, error) {
	es, err := f.entries(opt)
	if err != nil {
		return nil, fmt.Errorf("mindspore: %w", err)
	}
	var buf bytes.Buffer
	writeEntries(&buf, es) // a bytes.Buffer does not fail
	return buf.Bytes(), nil
}

// Write saves the checkpoint at path atomically: it writes a temporary file in the same directory,
// syncs it, and renames it over path, so readers see either the old file or the whole new one.
func (f *File) Write(path string, opt Options) error {
	es, err := f.entries(opt)
	if err != nil {
		return fmt.Errorf("mindspore %s: %w", path, err)
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { return writeEntries(w, es) }); err != nil {
		return fmt.Errorf("mindspore: %w", err)
	}
	return nil
}

// entries checks the file and returns the Values to write, in order: the tensors (sliced as opt
// says), then the strings sorted by tag.
func (f *File) entries(opt Options) ([]entry, error) {
	if len(f.Tensors) == 0 && len(f.Strings) == 0 {
		return nil, errors.New("nothing to write: the checkpoint has no tensors")
	}
	if opt.SliceBytes < 0 {
		return nil, fmt.Errorf("negative SliceBytes %d", opt.SliceBytes)
	}
	seen := map[string]bool{}
	checkTag := func(tag string) error {
		switch {
		case tag == "":
			return errors.New("an entry has an empty tag")
		case !utf8.ValidString(tag):
			return fmt.Errorf("tag %q is not valid UTF-8", tag)
		case seen[tag]:
			return fmt.Errorf("tag %q appears twice", tag)
		}
		seen[tag] = true
		return nil
	}
	var es []entry
	for _, t := range f.Tensors {
		if err := checkTag(t.Name); err != nil {
			return nil, err
		}
		e, err := tensorEntry(t, opt)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		es = append(es, slice(e, t.Shape, opt.SliceBytes)...)
	}
	tags := make([]string, 0, len(f.Strings))
	for tag := range f.Strings {
		tags = append(tags, tag)
	}
	slices.Sort(tags)
	for _, tag := range tags {
		if err := checkTag(tag); err != nil {
			return nil, err
		}
		content, err := encodeString(f.Strings[tag])
		if err != nil {
			return nil, fmt.Errorf("string %q: %w", tag, err)
		}
		es = append(es, entry{tag: tag, tensorType: TypeString, dims: []int64{0}, content: content})
	}
	return es, nil
}

// tensorEntry checks t and returns it as one Value.
func tensorEntry(t Tensor, opt Options) (entry, error) {
	tt, err := TensorType(t.DType)
	if err != nil {
		return entry{}, err
	}
	need := uint64(safetensors.DTypeSize(t.DType))
	dims := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		if d < 0 {
			return entry{}, fmt.Errorf("shape %v has a negative dimension", t.Shape)
		}
		if d != 0 && need > math.MaxInt64/uint64(d) {
			return entry{}, fmt.Errorf("shape %v is too large", t.Shape)
		}
		need *= uint64(d)
		dims[i] = int64(d)
	}
	if uint64(len(t.Data)) != need {
		return entry{}, fmt.Errorf("%d bytes of data for %s %v, want %d", len(t.Data), t.DType, t.Shape, need)
	}
	if len(dims) == 0 && opt.ScalarDimsZero {
		dims = []int64{0}
	}
	return entry{tag: t.Name, tensorType: tt, dims: dims, content: t.Data}, nil
}

// slice splits e into Values of whole rows of at most limit bytes each (at least one row each).
func slice(e entry, shape []int, limit int) []entry {
	if limit <= 0 || len(e.content) <= limit || len(shape) == 0 || shape[0] < 2 {
		return []entry{e}
	}
	row := len(e.content) / shape[0]
	step := row * max(1, limit/row)
	var out []entry
	for off := 0; off < len(e.content); off += step {
		s := e
		s.content = e.content[off:min(off+step, len(e.content))]
		out = append(out, s)
	}
	return out
}

// encodeString encodes s as NumPy stores a str: UTF-32LE, with one NUL for the empty string (NumPy
// gives "" the dtype <U1).
func encodeString(s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("not valid UTF-8")
	}
	if strings.ContainsRune(s, 0) {
		return nil, errors.New("contains a NUL character, which MindSpore's reader drops")
	}
	out := make([]byte, 0, 4*max(1, utf8.RuneCountInString(s)))
	for _, r := range s {
		out = append(out, byte(r), byte(r>>8), byte(r>>16), byte(r>>24))
	}
	if len(out) == 0 {
		out = append(out, 0, 0, 0, 0)
	}
	return out, nil
}

// writeEntries writes each entry as a Checkpoint message of its own, as MindSpore does, streaming
// the content instead of copying it into the message.
func writeEntries(w io.Writer, es []entry) error {
	var head []byte
	for _, e := range es {
		tensorLen := protowire.SizeTag(fieldType) + protowire.SizeBytes(len(e.tensorType)) +
			protowire.SizeTag(fieldContent) + protowire.SizeBytes(len(e.content))
		for _, d := range e.dims {
			tensorLen += protowire.SizeTag(fieldDims) + protowire.SizeVarint(uint64(d))
		}
		valueLen := protowire.SizeTag(fieldTag) + protowire.SizeBytes(len(e.tag)) +
			protowire.SizeTag(fieldTensor) + protowire.SizeBytes(tensorLen)

		head = head[:0]
		head = protowire.AppendTag(head, fieldValue, protowire.BytesType)
		head = protowire.AppendVarint(head, uint64(valueLen))
		head = protowire.AppendTag(head, fieldTag, protowire.BytesType)
		head = protowire.AppendString(head, e.tag)
		head = protowire.AppendTag(head, fieldTensor, protowire.BytesType)
		head = protowire.AppendVarint(head, uint64(tensorLen))
		for _, d := range e.dims {
			head = protowire.AppendTag(head, fieldDims, protowire.VarintType)
			head = protowire.AppendVarint(head, uint64(d))
		}
		head = protowire.AppendTag(head, fieldType, protowire.BytesType)
		head = protowire.AppendString(head, e.tensorType)
		head = protowire.AppendTag(head, fieldContent, protowire.BytesType)
		head = protowire.AppendVarint(head, uint64(len(e.content)))
		if _, err := w.Write(head); err != nil {
			return err
		}
		if _, err := w.Write(e.content); err != nil {
			return err
		}
	}
	return nil
}
