// Package data holds datasets and their decoding. This file reads the IDX format of MNIST and
// Fashion-MNIST (plain or gzipped).
package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"

	"github.com/resnext/resnext/data/internal/readn"
)

// IDX is a decoded IDX file of unsigned bytes: its dimensions and its data in C order.
type IDX struct {
	Dims []int
	Data []byte
}

// MaxIDXBytes bounds the data an IDX header may declare (4 GiB by default; the full MNIST training
// images are 47 MB): a larger header is refused before anything is read. Raise it before reading
// for larger files. Whatever the limit, the data buffer grows only as the data arrives (a gzipped
// file's size is not known beforehand), so a header that claims more than the file holds fails
// with "truncated" having allocated about what the file holds.
var MaxIDXBytes int64 = 1 << 32

// ReadIDX decodes an IDX file of unsigned bytes (type code 0x08) from r, gunzipping it first when it
// starts with the gzip magic.
func ReadIDX(r io.Reader) (*IDX, error) {
	br := bufio.NewReader(r)
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("idx: gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	var magic [4]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return nil, fmt.Errorf("idx: reading the header: %w", err)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("idx: bad magic %x: not an IDX file", magic)
	}
	if magic[2] != 0x08 {
		return nil, fmt.Errorf("idx: element type 0x%02x is not supported: want unsigned bytes (0x08)", magic[2])
	}
	ndim := int(magic[3])
	if ndim == 0 {
		return nil, errors.New("idx: zero dimensions")
	}
	raw := make([]byte, 4*ndim)
	if _, err := io.ReadFull(br, raw); err != nil {
		return nil, fmt.Errorf("idx: reading %d dimensions: %w", ndim, err)
	}
	dims := make([]int, ndim)
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(raw[4*i:]))
		if dims[i] == 0 {
			return nil, fmt.Errorf("idx: dimensions %v: dimension %d is 0, the file holds no data", dims[:i+1], i)
		}
	}
	n, ok := readn.Product(dims, 1, MaxIDXBytes)
	if !ok {
		return nil, fmt.Errorf("idx: dimensions %v are implausibly large: more than data.MaxIDXBytes (%d bytes); raise it if the file is genuine", dims, MaxIDXBytes)
	}
	data, err := readn.Read(br, n)
	if err != nil {
		return nil, fmt.Errorf("idx: dimensions %v: %w", dims, err)
	}
	return &IDX{Dims: dims, Data: data}, nil
}

// ReadIDXFile decodes the IDX file at path.
func ReadIDXFile(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	x, err := ReadIDX(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

// Images is a labelled set of images in memory: N images of C x H x W bytes each, in CHW order.
type Images struct {
	N, C, H, W int
	Pixels     []byte
	Labels     []int32
	Classes    []string
}

// Image returns the pixels of image i.
func (s *Images) Image(i int) []byte {
	n := s.C * s.H * s.W
	return s.Pixels[i*n : (i+1)*n]
}

// MNISTSplits maps the split names this project uses to the file prefixes of MNIST-format sets.
var MNISTSplits = map[string]string{"train": "train", "val": "t10k", "test": "t10k"}

// LoadMNIST reads split ("train", or "val"/"test") of an MNIST-format data set from dir, which holds
// {train,t10k}-images-idx3-ubyte and {train,t10k}-labels-idx1-ubyte, each optionally gzipped.
// classes, when not nil, names the labels; a label outside it is an error.
func LoadMNIST(dir, split string, classes []string) (*Images, error) {
	s, err := LoadMNISTFS(os.DirFS(dir), ".", split, classes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return s, nil
}

// LoadMNISTFS is LoadMNIST on a file system (an embedded sample, say), reading from dir inside it.
func LoadMNISTFS(fsys fs.FS, dir, split string, classes []string) (*Images, error) {
	prefix, ok := MNISTSplits[split]
	if !ok {
		return nil, fmt.Errorf("unknown split %q: want train, val or test", split)
	}
	open := func(name string) (*IDX, error) {
		for _, p := range []string{name + ".gz", name} {
			f, err := fsys.Open(path.Join(dir, p))
			if err != nil {
				continue
			}
			defer f.Close()
			x, err := ReadIDX(f)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			return x, nil
		}
		return nil, fmt.Errorf("neither %s nor %s.gz exists", name, name)
	}
	img, err := open(prefix + "-images-idx3-ubyte")
	if err != nil {
		return nil, err
	}
	lab, err := open(prefix + "-labels-idx1-ubyte")
	if err != nil {
		return nil, err
	}
	if len(img.Dims) != 3 || len(lab.Dims) != 1 || img.Dims[0] != lab.Dims[0] {
		return nil, fmt.Errorf("split %s: images %v and labels %v do not match: want [N, H, W] and [N]", split, img.Dims, lab.Dims)
	}
	s := &Images{N: img.Dims[0], C: 1, H: img.Dims[1], W: img.Dims[2], Pixels: img.Data, Classes: classes,
		Labels: make([]int32, lab.Dims[0])}
	for i, l := range lab.Data {
		if classes != nil && int(l) >= len(classes) {
			return nil, fmt.Errorf("split %s: label %d of item %d is out of range for %d classes", split, l, i, len(classes))
		}
		s.Labels[i] = int32(l)
	}
	return s, nil
}
