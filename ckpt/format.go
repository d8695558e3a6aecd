package ckpt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/resnext/resnext/ckpt/internal/quote"
	"github.com/resnext/resnext/ckpt/mindspore"
	"github.com/resnext/resnext/ckpt/safetensors"
)

// Format is a checkpoint file format.
type Format string

// The formats Read knows. Write writes MindSpore and SafeTensors.
const (
	// MindSpore is MindSpore's protobuf checkpoint, extension .ckpt.
	MindSpore Format = "mindspore"
	// SafeTensors is the safetensors format, extension .safetensors.
	SafeTensors Format = "safetensors"
	// PyTorch is torch.save's format, extensions .pth, .pt and .bin; read only.
	PyTorch Format = "pytorch"
)

// extensions maps file extensions to formats.
var extensions = map[string]Format{
	".ckpt":        MindSpore,
	".safetensors": SafeTensors,
	".pth":         PyTorch,
	".pt":          PyTorch,
	".bin":         PyTorch,
}

const knownExtensions = ".ckpt, .safetensors, .pth, .pt or .bin"

// extension returns the usual extension of a format, for messages.
func (f Format) extension() string {
	switch f {
	case MindSpore:
		return ".ckpt"
	case SafeTensors:
		return ".safetensors"
	case PyTorch:
		return ".pth"
	}
	return ""
}

// String names the format for messages: "MindSpore", "safetensors" or "PyTorch".
func (f Format) String() string {
	switch f {
	case MindSpore:
		return "MindSpore"
	case SafeTensors:
		return "safetensors"
	case PyTorch:
		return "PyTorch"
	}
	return string(f)
}

// FormatOf returns the format a path's extension (in any case) names.
func FormatOf(path string) (Format, bool) {
	f, ok := extensions[strings.ToLower(filepath.Ext(path))]
	return f, ok
}

// sniffSize is how many leading bytes Sniff looks at.
const sniffSize = 64

// Sniff returns the format the first bytes of a file show: a safetensors header (an 8-byte
// little-endian length, then '{'), a zip archive (PyTorch since 1.6) or a pickle (older PyTorch),
// or a protobuf Checkpoint whose first Value starts with a tag or a tensor (MindSpore).
func Sniff(head []byte) (Format, bool) {
	if len(head) >= 9 && head[8] == '{' {
		if n := binary.LittleEndian.Uint64(head); n >= 2 && n <= safetensors.MaxHeaderSize {
			return SafeTensors, true
		}
	}
	if strings.HasPrefix(string(head), "PK\x03\x04") {
		return PyTorch, true
	}
	if len(head) >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5 { // pickle PROTO 2..5
		return PyTorch, true
	}
	if num, typ, n := protowire.ConsumeTag(head); n > 0 && num == 1 && typ == protowire.BytesType {
		if _, m := protowire.ConsumeVarint(head[n:]); m > 0 {
			if num, typ, k := protowire.ConsumeTag(head[n+m:]); k > 0 && (num == 1 || num == 2) && typ == protowire.BytesType {
				return MindSpore, true
			}
		}
	}
	return "", false
}

// detect chooses the format of the file at path from its extension and its first bytes, and
// explains a disagreement between them.
func detect(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("ckpt: %w", err)
	}
	head := make([]byte, sniffSize)
	n, err := io.ReadFull(f, head)
	f.Close()
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("ckpt %s: %w", path, err)
	}
	byExt, extOK := FormatOf(path)
	byContent, contentOK := Sniff(head[:n])
	ext := filepath.Ext(path)
	switch {
	case extOK && contentOK && byExt != byContent:
		hint := ""
		if byExt == MindSpore && byContent == PyTorch {
			hint = " (PyTorch Lightning names its checkpoints .ckpt)"
		}
		return "", fmt.Errorf("ckpt %s: the extension %s says %s, but the content is a %s file%s: rename it to %s",
			path, ext, byExt, byContent, hint, strings.TrimSuffix(path, ext)+byContent.extension())
	case extOK:
		return byExt, nil // when the content is not recognised, the format's reader says what is wrong
	case contentOK:
		return byContent, nil
	}
	what := fmt.Sprintf("the extension %q is not %s", ext, knownExtensions)
	if ext == "" {
		what = "the name has no extension (" + knownExtensions + ")"
	}
	if n == 0 {
		return "", fmt.Errorf("ckpt %s: empty file, and %s", path, what)
	}
	return "", fmt.Errorf("ckpt %s: unknown checkpoint format: %s, and the content (starting % x) is none of these formats",
		path, what, head[:min(n, 8)])
}

// Read reads the checkpoint at path, choosing the format from its extension (.ckpt, .safetensors,
// .pth, .pt, .bin) and checking it against the content, and sorts its entries into Tensors and
// Extra (see IsModelTensor). Names are kept as the file has them. Errors name the file and, where
// one is at fault, the tensor.
func Read(path string) (*Checkpoint, error) {
	format, err := detect(path)
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{Path: path, Format: format, Metadata: map[string]string{}}
	var ts []Tensor
	switch format {
	case MindSpore:
		f, err := mindspore.Read(path)
		if err != nil {
			return nil, err
		}
		ts = f.Tensors
		maps.Copy(c.Metadata, f.Strings)
	case SafeTensors:
		f, err := safetensors.Read(path)
		if err != nil {
			return nil, err
		}
		for _, name := range f.Names() {
			t, _ := f.Tensor(name)
			ts = append(ts, t)
		}
		maps.Copy(c.Metadata, f.Metadata)
	case PyTorch:
		if ts, err = readTorch(path); err != nil {
			return nil, err
		}
	}
	for _, t := range ts {
		c.Add(t)
	}
	return c, nil
}

// WriteOptions tunes Write.
type WriteOptions struct {
	// SliceBytes splits tensors larger than this many bytes into several Values in a .ckpt, as
	// newer MindSpore does (see mindspore.Options); 0 never splits.
	SliceBytes int
}

// Write saves the checkpoint at path atomically, in the format its extension names (.ckpt or
// .safetensors), with Tensors first and then Extra. Metadata goes into a safetensors file's
// __metadata__, with "format" set to "ms" or "pt" from the naming convention unless it is already
// there, and into a .ckpt as string entries (which MindSpore 2.x's load_checkpoint returns as
// strings and load_param_into_net ignores).
func (c *Checkpoint) Write(path string) error { return c.WriteWith(path, WriteOptions{}) }

// WriteWith is Write with options.
func (c *Checkpoint) WriteWith(path string, opt WriteOptions) error {
	format, ok := FormatOf(path)
	switch {
	case !ok:
		return fmt.Errorf("ckpt %s: unknown extension %q: write .ckpt (MindSpore) or .safetensors", path, filepath.Ext(path))
	case format == PyTorch:
		return fmt.Errorf("ckpt %s: writing PyTorch files is not supported: write .safetensors, which torch and timm read, or .ckpt", path)
	}
	all := append(append([]Tensor{}, c.Tensors...), c.Extra...)
	seen := map[string]bool{}
	for _, t := range all {
		if seen[t.Name] {
			return fmt.Errorf("ckpt %s: tensor %s appears twice", path, quote.String(t.Name))
		}
		seen[t.Name] = true
	}
	switch format {
	case MindSpore:
		f := &mindspore.File{Tensors: all, Strings: c.Metadata}
		return f.Write(path, mindspore.Options{SliceBytes: opt.SliceBytes})
	default:
		f := safetensors.New()
		maps.Copy(f.Metadata, c.Metadata)
		if _, ok := f.Metadata[MetaFormat]; !ok {
			switch naming, _ := c.Naming(); naming {
			case NamingMindCV:
				f.Metadata[MetaFormat] = "ms"
			case NamingTorch:
				f.Metadata[MetaFormat] = "pt"
			}
		}
		for _, t := range all {
			if err := f.Add(t); err != nil {
				return fmt.Errorf("%w (writing %s)", err, path)
			}
		}
		return f.Write(path)
	}
}
