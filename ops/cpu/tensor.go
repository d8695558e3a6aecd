package cpu

import (
	"sync"
	"unsafe"

	"github.com/resnext/resnext/ops"
)

// tensor is a CPU tensor: a shape, a dtype and 8-byte-aligned storage (words) that holds no pointers,
// viewed as the element type by the accessors below.
type tensor struct {
	shape ops.Shape
	dtype ops.DType
	words []uint64
	freed bool
}

func (t *tensor) Shape() ops.Shape { return t.shape }
func (t *tensor) DType() ops.DType { return t.dtype }

func (t *tensor) bytes() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(t.words))), t.shape.Numel()*t.dtype.Size())
}

func (t *tensor) f32() []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(t.words))), t.shape.Numel())
}

func (t *tensor) u16() []uint16 {
	return unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(t.words))), t.shape.Numel())
}

func (t *tensor) i32() []int32 {
	return unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(t.words))), t.shape.Numel())
}

func (t *tensor) i64() []int64 {
	return unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(t.words))), t.shape.Numel())
}

// get returns t as a CPU tensor, panicking with op's name when it belongs to another backend or was freed.
func get(op string, t ops.Tensor) *tensor {
	c, ok := t.(*tensor)
	if !ok {
		if t == nil {
			ops.Misuse(op, "nil tensor")
		}
		ops.Misuse(op, "tensor %v %v belongs to another backend (%T)", t.Shape(), t.DType(), t)
	}
	if c.freed {
		ops.Misuse(op, "tensor %v %v used after Free", c.shape, c.dtype)
	}
	return c
}

// f32 returns t's float32 storage, panicking when t is of another dtype.
func f32(op string, t ops.Tensor) []float32 {
	c := get(op, t)
	if c.dtype != ops.Float32 {
		ops.Misuse(op, "tensor %v is %v: the cpu backend computes in float32 (Cast first)", c.shape, c.dtype)
	}
	return c.f32()
}

// optF32 is f32 for an optional output: nil stays nil.
func optF32(op string, t ops.Tensor) []float32 {
	if t == nil {
		return nil
	}
	return f32(op, t)
}

// pool keeps freed storage by word count for reuse.
type pool struct {
	mu   sync.Mutex
	free map[int][][]uint64
}

func (p *pool) get(words int) []uint64 {
	p.mu.Lock()
	if l := p.free[words]; len(l) > 0 {
		w := l[len(l)-1]
		p.free[words] = l[:len(l)-1]
		p.mu.Unlock()
		return w
	}
	p.mu.Unlock()
	return make([]uint64, words)
}

func (p *pool) put(w []uint64) {
	p.mu.Lock()
	if p.free == nil {
		p.free = map[int][][]uint64{}
	}
	p.free[len(w)] = append(p.free[len(w)], w)
	p.mu.Unlock()
}

func (p *pool) drain() {
	p.mu.Lock()
	p.free = nil
	p.mu.Unlock()
}

// Alloc returns a tensor from the pool. Its contents are whatever the last user left.
func (b *Backend) Alloc(dt ops.DType, shape ops.Shape) ops.Tensor {
	ops.CheckAlloc(dt, shape)
	words := (shape.Numel()*dt.Size() + 7) / 8
	return &tensor{shape: shape.Clone(), dtype: dt, words: b.pool.get(words)}
}

// Free returns t's storage to the pool.
func (b *Backend) Free(t ops.Tensor) {
	c := get("Free", t)
	c.freed = true
	b.pool.put(c.words)
	c.words = nil
}

// scratch returns n float32s of pooled working memory (contents undefined); give it back with release.
func (b *Backend) scratch(n int) []float32 {
	w := b.pool.get((n + 1) / 2)
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(w))), n)
}

// release returns a scratch slice to the pool.
func (b *Backend) release(s []float32) {
	b.pool.put(unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(s))), (len(s)+1)/2))
}

// Write copies host bytes into dst.
func (b *Backend) Write(dst ops.Tensor, src []byte) {
	d := get("Write", dst)
	if len(src) != len(d.bytes()) {
		ops.Misuse("Write", "%d bytes for a %v %v tensor (%d bytes)", len(src), d.shape, d.dtype, len(d.bytes()))
	}
	copy(d.bytes(), src)
}

// Read copies src's bytes to the host.
func (b *Backend) Read(src ops.Tensor, dst []byte) error {
	s := get("Read", src)
	if len(dst) != len(s.bytes()) {
		ops.Misuse("Read", "%d bytes for a %v %v tensor (%d bytes)", len(dst), s.shape, s.dtype, len(s.bytes()))
	}
	copy(dst, s.bytes())
	return nil
}

// Copy copies src into dst.
func (b *Backend) Copy(src, dst ops.Tensor) {
	ops.CheckSame("Copy", src, dst)
	copy(get("Copy", dst).bytes(), get("Copy", src).bytes())
}

// Fill sets every element of t to v (converted as ops.DType.Encode says).
func (b *Backend) Fill(t ops.Tensor, v float64) {
	c := get("Fill", t)
	bits := c.dtype.Encode(v)
	switch c.dtype.Size() {
	case 1:
		fill(c.bytes(), uint8(bits))
	case 2:
		fill(c.u16(), uint16(bits))
	case 4:
		fill(c.i32(), int32(uint32(bits)))
	case 8:
		fill(c.i64(), int64(bits))
	}
}

func fill[T any](s []T, v T) {
	for i := range s {
		s[i] = v
	}
}
