package torch

import (
	"fmt"
	"math"

	"github.com/resnext/resnext/ckpt/internal/quote"
)

// storage is one of the file's storages: a flat array of elements that tensors view.
type storage struct {
	key      string // the name of its data: archive/data/<key> in a zip checkpoint
	location string // the device it was saved from ("cpu", "cuda:0"); ignored
	dtype    dtype
	numel    int64  // elements, as the pickle declares
	data     []byte // numel*dtype.size bytes, little-endian, once loaded
	loaded   bool
}

func (s *storage) nbytes() int64 { return s.numel * int64(s.dtype.size) }

// tensor is a view of a storage: torch's (storage, offset, size, stride).
type tensor struct {
	storage *storage
	offset  int64   // in elements
	shape   []int64 // torch's size
	stride  []int64 // in elements
}

// check returns the number of elements after checking that the view lies inside its storage.
func (t *tensor) check() (int64, error) {
	st := t.storage
	numel := int64(1)
	for i, d := range t.shape {
		if d < 0 {
			return 0, fmt.Errorf("size %v has a negative dimension at index %d", t.shape, i)
		}
		if d != 0 && numel > math.MaxInt64/int64(st.dtype.size)/d {
			return 0, fmt.Errorf("size %v is too large", t.shape)
		}
		numel *= d
	}
	if numel == 0 {
		return 0, nil
	}
	if t.offset < 0 {
		return 0, fmt.Errorf("negative storage offset %d", t.offset)
	}
	// The last element the view touches: offset + sum((size-1)*stride), kept below the storage's end.
	last := t.offset
	for i, d := range t.shape {
		s := t.stride[i]
		if s < 0 {
			return 0, fmt.Errorf("stride %v has a negative entry at index %d", t.stride, i)
		}
		if d > 1 && s > (st.numel-1-last)/(d-1) {
			return 0, t.outOfRange()
		}
		last += (d - 1) * s
	}
	if last >= st.numel {
		return 0, t.outOfRange()
	}
	return numel, nil
}

func (t *tensor) outOfRange() error {
	return fmt.Errorf("view (offset %d, size %v, stride %v) reaches past the end of storage %s of %d elements",
		t.offset, t.shape, t.stride, quote.String(t.storage.key), t.storage.numel)
}

// contiguous reports whether the view's elements lie in C order without gaps.
func (t *tensor) contiguous() bool {
	want := int64(1)
	for i := len(t.shape) - 1; i >= 0; i-- {
		if t.shape[i] != 1 && t.stride[i] != want {
			return false
		}
		want *= t.shape[i]
	}
	return true
}

// copyOut returns the view's numel elements in C order. The storage must be loaded and the view
// checked.
func (t *tensor) copyOut(numel int64) []byte {
	es := int64(t.storage.dtype.size)
	out := make([]byte, numel*es)
	if numel == 0 {
		return out
	}
	data := t.storage.data
	if t.contiguous() {
		copy(out, data[t.offset*es:(t.offset+numel)*es])
		return out
	}
	nd := len(t.shape)
	inner, innerStride := t.shape[nd-1], t.stride[nd-1]
	idx := make([]int64, nd-1)
	pos := int64(0)
	for {
		base := t.offset
		for i, j := range idx {
			base += j * t.stride[i]
		}
		if innerStride == 1 {
			pos += int64(copy(out[pos:], data[base*es:(base+inner)*es]))
		} else {
			for j := int64(0); j < inner; j++ {
				at := (base + j*innerStride) * es
				pos += int64(copy(out[pos:pos+es], data[at:at+es]))
			}
		}
		k := nd - 2
		for ; k >= 0; k-- {
			idx[k]++
			if idx[k] < t.shape[k] {
				break
			}
			idx[k] = 0
		}
		if k < 0 {
			return out
		}
	}
}

// swapBytes reverses the bytes of each size-byte element of data in place (big-endian files).
func swapBytes(data []byte, size int) {
	if size < 2 {
		return
	}
	for i := 0; i+size <= len(data); i += size {
		e := data[i : i+size]
		for a, b := 0, size-1; a < b; a, b = a+1, b-1 {
			e[a], e[b] = e[b], e[a]
		}
	}
}
