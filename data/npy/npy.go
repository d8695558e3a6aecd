// Package npy reads and writes NumPy's .npy format (version 1.0, 2.0 and 3.0 headers) for
// little-endian float32, float64, int32, int64 and uint8 arrays in C order: the exchange format of
// `resnext predict --input X.npy --output Y.npy`.
package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/resnext/resnext/data/internal/readn"
	"github.com/resnext/resnext/internal/atomicfile"
)

// Array is an n-dimensional array: its dtype in NumPy's spelling ("<f4", "<f8", "<i4", "<i8",
// "|u1"), its shape, and its data, little-endian in C order.
type Array struct {
	DType string
	Shape []int
	Data  []byte
}

var dtypeSizes = map[string]int{"<f4": 4, "<f8": 8, "<i4": 4, "<i8": 8, "|u1": 1}

var magic = []byte("\x93NUMPY")

// maxHeader bounds the header a file may declare, so a corrupt length fails cleanly.
const maxHeader = 1 << 20

// MaxBytes bounds the data an array's header may declare (16 GiB by default): a larger shape is
// refused before anything is read. Raise it before calling Read or Decode for larger arrays.
// Whatever the limit, the data buffer grows only as the data arrives, so a header that claims more
// than the file holds fails with "truncated" having allocated about what the file holds.
var MaxBytes int64 = 1 << 34

// Numel is the number of elements.
func (a *Array) Numel() int {
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	return n
}

// Float32 returns the elements as float32 (float64 is rounded, integers converted).
func (a *Array) Float32() []float32 {
	n := a.Numel()
	out := make([]float32, n)
	le := binary.LittleEndian
	for i := range out {
		switch a.DType {
		case "<f4":
			out[i] = math.Float32frombits(le.Uint32(a.Data[4*i:]))
		case "<f8":
			out[i] = float32(math.Float64frombits(le.Uint64(a.Data[8*i:])))
		case "<i4":
			out[i] = float32(int32(le.Uint32(a.Data[4*i:])))
		case "<i8":
			out[i] = float32(int64(le.Uint64(a.Data[8*i:])))
		case "|u1":
			out[i] = float32(a.Data[i])
		}
	}
	return out
}

// FromFloat32 returns a "<f4" array of the given shape holding v.
func FromFloat32(shape []int, v []float32) (*Array, error) {
	a := &Array{DType: "<f4", Shape: append([]int(nil), shape...)}
	if a.Numel() != len(v) {
		return nil, fmt.Errorf("npy: %d values for shape %v", len(v), shape)
	}
	a.Data = make([]byte, 0, 4*len(v))
	for _, x := range v {
		a.Data = binary.LittleEndian.AppendUint32(a.Data, math.Float32bits(x))
	}
	return a, nil
}

var headerRE = regexp.MustCompile(`^\{\s*'descr'\s*:\s*'([^']*)'\s*,\s*'fortran_order'\s*:\s*(True|False)\s*,\s*'shape'\s*:\s*\(([^)]*)\)\s*,?\s*\}\s*$`)

// Read reads the .npy file at path.
func Read(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := Decode(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// Decode reads one array from r.
func Decode(r io.Reader) (*Array, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("npy: reading the magic: %w", err)
	}
	if !bytes.Equal(pre[:6], magic) {
		return nil, errors.New("npy: not a .npy file (bad magic): save arrays with numpy.save")
	}
	var hlen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("npy: reading the header length: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("npy: reading the header length: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return nil, fmt.Errorf("npy: format version %d.%d is not supported", pre[6], pre[7])
	}
	if hlen > maxHeader {
		return nil, fmt.Errorf("npy: header length %d is implausible", hlen)
	}
	head := make([]byte, hlen)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, fmt.Errorf("npy: reading the %d-byte header: %w", hlen, err)
	}
	m := headerRE.FindSubmatch(bytes.TrimSpace(head))
	if m == nil {
		return nil, fmt.Errorf("npy: cannot parse the header %q", strings.TrimSpace(string(head)))
	}
	a := &Array{DType: string(m[1])}
	if a.DType == "<u1" {
		a.DType = "|u1"
	}
	size, ok := dtypeSizes[a.DType]
	if !ok {
		return nil, fmt.Errorf("npy: dtype %q is not supported: want little-endian float32, float64, int32, int64 or uint8 (<f4, <f8, <i4, <i8, |u1)", a.DType)
	}
	if string(m[2]) == "True" {
		return nil, errors.New("npy: Fortran-order arrays are not supported: save with numpy.ascontiguousarray")
	}
	for _, f := range strings.Split(string(m[3]), ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("npy: bad dimension %q in the shape (%s)", f, m[3])
		}
		a.Shape = append(a.Shape, d)
	}
	n, ok := readn.Product(a.Shape, int64(size), MaxBytes)
	if !ok {
		return nil, fmt.Errorf("npy: shape (%s) of %s needs more than npy.MaxBytes (%d bytes): not read; raise npy.MaxBytes if the array is genuine", m[3], a.DType, MaxBytes)
	}
	data, err := readn.Read(r, n)
	if err != nil {
		return nil, fmt.Errorf("npy: shape %v of %s: %w", a.Shape, a.DType, err)
	}
	a.Data = data
	return a, nil
}

// Encode writes a as a version 1.0 .npy stream.
func (a *Array) Encode(w io.Writer) error {
	size, ok := dtypeSizes[a.DType]
	if !ok {
		return fmt.Errorf("npy: dtype %q is not supported", a.DType)
	}
	if len(a.Data) != a.Numel()*size {
		return fmt.Errorf("npy: %d bytes of data for shape %v of %s", len(a.Data), a.Shape, a.DType)
	}
	dims := make([]string, len(a.Shape))
	for i, d := range a.Shape {
		dims[i] = strconv.Itoa(d)
	}
	shape := strings.Join(dims, ", ")
	if len(a.Shape) == 1 {
		shape += ","
	}
	head := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", a.DType, shape)
	// Pad with spaces and a newline so that magic + length + header is a multiple of 64 bytes.
	total := len(magic) + 2 + 2 + len(head) + 1
	head += strings.Repeat(" ", (64-total%64)%64) + "\n"
	var pre [10]byte
	copy(pre[:], magic)
	pre[6], pre[7] = 1, 0
	binary.LittleEndian.PutUint16(pre[8:], uint16(len(head)))
	for _, b := range [][]byte{pre[:], []byte(head), a.Data} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// Write writes a to path atomically (see atomicfile).
func (a *Array) Write(path string) error { return atomicfile.Write(path, a.Encode) }
