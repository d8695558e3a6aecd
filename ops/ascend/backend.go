//go:build cgo

package ascend

import (
	"fmt"
	"strings"
	"sync"

	"github.com/resnext/resnext/acl"
	"github.com/resnext/resnext/internal/devmem"
	"github.com/resnext/resnext/ops"
)

// New is Open for callers that want an ops.Backend (and build without cgo too).
func New(o Options) (ops.Backend, error) {
	b, err := Open(o)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Backend is the Ascend implementation of ops.Backend. Like every backend it is meant for one
// goroutine at a time.
type Backend struct {
	lib    *acl.Lib
	dev    *acl.Device
	stream *acl.Stream
	mem    *devmem.Allocator // device memory
	pinned *devmem.Allocator // host staging for Write and Read
	cube   int8
	soc    soc
	reuse  bool // executors can be made repeatable (for the record in Device)

	capture *capturePool // while capturing a graph (capture.go)
	graphs  int          // graphs captured and not freed
	noFlat  bool         // Options.NoFlatOptimizer

	// the executor cache (exec.go)
	cacheExecs  bool
	execs       map[string]*cachedExec
	callBuf     call
	launches    int
	execHits    int
	execRebinds int
	binds       []acl.Bind
	bindBuf     acl.BindBuf

	mu      sync.Mutex
	err     error                          // the first failure, sticky
	pending []interface{ Destroy() error } // host objects a queued kernel may still use
	staged  []devmem.Block                 // pinned blocks a queued copy may still use
	stagedB uint64
	consts  map[constKey]*tensor
	closed  bool
	// pinnedBufs are the pinned host buffers of AllocPinned, by address.
	pinnedBufs map[uintptr]*pinnedBuf
	finiteAc   *tensor // AllFinite's accumulator

	// packs are the blocks holding the tensors the group step packed (flat.go).
	packs []*flatPack

	// colls are the HCCL collectives open on the backend (collective.go); syncs counts the
	// synchronizations of the compute stream, after which their retired events may be reused.
	colls []*Collective
	syncs uint64
}

// Pending host objects and staging bytes beyond which the backend drains the stream to release them.
const (
	maxPending = 1 << 14
	maxStaged  = 256 << 20
)

// Open opens card o.Device and returns a backend on it.
func Open(o Options) (*Backend, error) {
	id := o.Device
	if id < 0 {
		var err error
		if id, err = DeviceFromEnv(); err != nil {
			return nil, err
		}
	}
	l := o.Lib
	if l == nil {
		if err := acl.Available(); err != nil {
			return nil, fmt.Errorf("ascend: %w", err)
		}
		var err error
		if l, err = acl.Load(); err != nil {
			return nil, fmt.Errorf("ascend: %w", err)
		}
	} else if err := l.Init(); err != nil {
		return nil, fmt.Errorf("ascend: %w", err)
	}
	n, err := l.DeviceCount()
	if err != nil {
		return nil, fmt.Errorf("ascend: %w", err)
	}
	if id >= n {
		return nil, fmt.Errorf("ascend: device %d does not exist: %d Ascend device(s) visible (devices 0 to %d; check %s and ASCEND_RT_VISIBLE_DEVICES)", id, n, n-1, EnvDeviceID)
	}
	dev, err := l.OpenDevice(id)
	if err != nil {
		return nil, fmt.Errorf("ascend: %w", err)
	}
	s, err := dev.NewStream()
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("ascend: device %d: %w", id, err)
	}
	chip := socOf(l.SocName())
	if err := chip.supported(); err != nil {
		s.Destroy()
		dev.Close()
		return nil, fmt.Errorf("ascend: device %d: %w", id, err)
	}
	b := &Backend{lib: l, dev: dev, stream: s, soc: chip, cube: chip.defaultCube(), reuse: l.CanReuseExecutors(),
		consts: map[constKey]*tensor{}, execs: map[string]*cachedExec{}}
	b.cacheExecs = b.reuse && !o.NoExecutorCache
	b.noFlat = o.NoFlatOptimizer
	if o.CubeMathTypeSet || o.CubeMathType != 0 {
		if err := chip.checkCube(o.CubeMathType); err != nil {
			s.Destroy()
			dev.Close()
			return nil, fmt.Errorf("ascend: device %d: %w", id, err)
		}
		b.cube = o.CubeMathType
	}
	name := fmt.Sprintf("device %d", id)
	b.mem = devmem.New(rawDevice{dev}, devmem.Options{
		Limit: o.MemoryLimit,
		Sync:  s.Synchronize,
		Name:  name,
		Free: func() (uint64, uint64, error) {
			return dev.MemInfo(acl.HBMMem)
		},
	})
	b.pinned = devmem.New(rawPinned{dev}, devmem.Options{Sync: s.Synchronize, Name: name + " pinned host"})
	return b, nil
}

type rawDevice struct{ d *acl.Device }

func (r rawDevice) Malloc(n uint64) (uintptr, error) {
	p, err := r.d.Malloc(n)
	return uintptr(p), err
}
func (r rawDevice) Free(p uintptr) error { return r.d.Free(acl.Ptr(p)) }

type rawPinned struct{ d *acl.Device }

func (r rawPinned) Malloc(n uint64) (uintptr, error) {
	p, err := r.d.MallocHost(n)
	return uintptr(p), err
}
func (r rawPinned) Free(p uintptr) error { return r.d.FreeHost(acl.Ptr(p)) }

var _ ops.Backend = (*Backend)(nil)

// Name returns "ascend".
func (b *Backend) Name() string { return "ascend" }

// Device describes the card and the library set, for logs.
func (b *Backend) Device() string {
	reuse := "executors rebuilt per call"
	switch {
	case b.cacheExecs:
		reuse = "executors cached and replayed"
	case b.reuse:
		reuse = "executor cache off"
	}
	return fmt.Sprintf("ascend: device %d, %v, cube math type %d, %s, CANN from %s", b.dev.ID(), b.soc, b.cube, reuse,
		strings.Join(b.lib.Paths(), ", "))
}

// MemoryStats reports the device allocator's figures.
func (b *Backend) MemoryStats() devmem.Stats { return b.mem.Stats() }

// tensor is a device tensor: its block of device memory and, made on first use, a contiguous aclnn
// descriptor of it.
type tensor struct {
	shape ops.Shape
	dtype ops.DType
	blk   devmem.Block
	desc  *acl.Tensor
	freed bool
	pack  *flatPack // the block blk lies in when the group step packed t (flat.go)
	// varEps, when not 0, marks a saveInvStd that holds the batch variance aclnnBatchNorm wrote,
	// with the eps of its forward (see BatchNormTrain); owner converts it on first other use.
	varEps float64
	owner  *Backend
}

func (t *tensor) Shape() ops.Shape { return t.shape }
func (t *tensor) DType() ops.DType { return t.dtype }

func (t *tensor) ptr() acl.Ptr { return acl.Ptr(t.blk.Ptr) }

func (t *tensor) bytes() int { return t.shape.Numel() * t.dtype.Size() }

// get returns the backend's tensor behind t, panicking on a foreign or freed one. A saveInvStd that
// still holds a batch variance is converted to what the interface says it holds first.
func get(op string, t ops.Tensor) *tensor {
	c := getRaw(op, t)
	if c.varEps != 0 {
		c.owner.invStd(c)
	}
	return c
}

// getRaw is get without the conversion.
func getRaw(op string, t ops.Tensor) *tensor {
	c, ok := t.(*tensor)
	if !ok {
		if t == nil {
			ops.Misuse(op, "nil tensor")
		}
		ops.Misuse(op, "tensor %v %v belongs to another backend", t.Shape(), t.DType())
	}
	if c.freed {
		ops.Misuse(op, "tensor %v %v used after Free", c.shape, c.dtype)
	}
	return c
}

// aclType is the aclnn type of an ops dtype.
func aclType(d ops.DType) acl.DataType {
	switch d {
	case ops.Float32:
		return acl.Float32
	case ops.Float16:
		return acl.Float16
	case ops.BFloat16:
		return acl.BFloat16
	case ops.Int32:
		return acl.Int32
	case ops.Int64:
		return acl.Int64
	case ops.Uint8:
		return acl.Uint8
	case ops.Bool:
		return acl.Bool
	}
	panic(fmt.Sprintf("ascend: no aclnn type for %v", d))
}

// Alloc returns a tensor in device memory. An allocation failure is a panic carrying the
// allocator's out-of-memory error (the interface has no error here; callers that want to recover
// can match devmem.ErrOutOfMemory).
func (b *Backend) Alloc(dt ops.DType, shape ops.Shape) ops.Tensor {
	ops.CheckAlloc(dt, shape)
	blk, err := b.allocBlock(uint64(shape.Numel() * dt.Size()))
	if err != nil {
		panic(fmt.Errorf("ascend: Alloc %v %v: %w", dt, shape, err))
	}
	return &tensor{shape: shape.Clone(), dtype: dt, blk: blk}
}

// Free gives t's memory back to the allocator; kernels queued before still see it, kernels queued
// after may reuse it.
func (b *Backend) Free(t ops.Tensor) {
	c := getRaw("Free", t)
	c.freed = true
	b.release(c)
}

// release gives t's memory back (its pack's share, or its block) and drops its descriptor.
func (b *Backend) release(c *tensor) {
	if c.pack != nil {
		b.unpack(c)
	} else {
		b.freeBlock(c.blk)
	}
	if c.desc != nil {
		b.later(c.desc)
		c.desc = nil
	}
}

// desc is t's contiguous descriptor, made once.
func (b *Backend) desc(t *tensor) *acl.Tensor {
	if t.desc == nil {
		t.desc = must(b.lib.NewTensor(aclType(t.dtype), dims64(t.shape), t.ptr()))
	}
	return t.desc
}

func dims64(s ops.Shape) []int64 {
	d := make([]int64, len(s))
	for i, v := range s {
		d[i] = int64(v)
	}
	return d
}

func contiguous(shape []int64) []int64 {
	st := make([]int64, len(shape))
	n := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = n
		n *= shape[i]
	}
	return st
}

// later keeps a host object until the stream has passed every kernel queued so far.
func (b *Backend) later(o interface{ Destroy() error }) {
	b.mu.Lock()
	b.pending = append(b.pending, o)
	full := len(b.pending) >= maxPending && b.capture == nil
	b.mu.Unlock()
	if full {
		b.drain()
	}
}

// fail records the first failure.
func (b *Backend) fail(op string, err error) {
	if err == nil {
		return
	}
	b.mu.Lock()
	if b.err == nil {
		b.err = fmt.Errorf("ascend: %s: %w", op, err)
	}
	b.mu.Unlock()
}

// failed reports whether a failure is recorded (kernels are then skipped).
func (b *Backend) failed() bool { return b.failedErr() != nil }

// failedErr is the recorded failure, if any.
func (b *Backend) failedErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// drain waits for the stream and releases what the queued work was holding.
func (b *Backend) drain() error {
	if b.capture != nil {
		b.fail("synchronize", errCapturing)
		return b.failedErr()
	}
	err := b.stream.Synchronize()
	if err == nil {
		b.syncs++
	}
	if e := b.releaseHeld(); err == nil {
		err = e
	}
	if err != nil {
		b.fail("synchronize", err)
	}
	return b.failedErr()
}

// releaseHeld destroys the host objects and frees the staging blocks kept for queued work, which
// must have finished.
func (b *Backend) releaseHeld() error {
	b.mu.Lock()
	pending, staged := b.pending, b.staged
	b.pending, b.staged, b.stagedB = nil, nil, 0
	b.mu.Unlock()
	var err error
	for _, o := range pending {
		if e := o.Destroy(); e != nil && err == nil {
			err = e
		}
	}
	for _, blk := range staged {
		b.pinned.Free(blk)
	}
	return err
}

// Sync waits for every queued kernel and copy and returns the first failure, if any.
func (b *Backend) Sync() error { return b.drain() }

// stage returns a pinned host block of n bytes for a host-to-device copy, kept until the next
// synchronisation.
func (b *Backend) stage(n int) (devmem.Block, error) {
	blk, err := b.pinned.Alloc(uint64(n))
	if err != nil {
		return blk, err
	}
	b.mu.Lock()
	b.staged = append(b.staged, blk)
	b.stagedB += blk.Size
	full := b.stagedB >= maxStaged && b.capture == nil
	b.mu.Unlock()
	if full {
		b.drain()
	}
	return blk, nil
}

// Write queues a copy of src into dst behind the kernels already queued. src is staged in pinned
// memory first, so the caller may change it at once, unless src is memory of AllocPinned: then
// the copy reads it in place, and the caller waits with WaitPinned before changing it.
func (b *Backend) Write(dst ops.Tensor, src []byte) {
	d := get("Write", dst)
	if len(src) != d.bytes() {
		ops.Misuse("Write", "%d bytes for a %v %v tensor (%d bytes)", len(src), d.shape, d.dtype, d.bytes())
	}
	if len(src) == 0 || b.failed() {
		return
	}
	if p := b.pinnedOf(src); p != nil {
		b.writePinned(d.ptr(), src, p)
		return
	}
	blk, err := b.stage(len(src))
	if err != nil {
		b.fail("Write", err)
		return
	}
	copy(acl.HostBytes(acl.Ptr(blk.Ptr), len(src)), src)
	b.fail("Write", b.stream.MemcpyAsync(d.ptr(), acl.Ptr(blk.Ptr), uint64(len(src)), acl.HostToDevice))
}

// Read waits for the work queued before it and copies src to the host.
func (b *Backend) Read(src ops.Tensor, dst []byte) error {
	s := get("Read", src)
	if len(dst) != s.bytes() {
		ops.Misuse("Read", "%d bytes for a %v %v tensor (%d bytes)", len(dst), s.shape, s.dtype, s.bytes())
	}
	if len(dst) == 0 || b.failed() {
		return b.drain()
	}
	// The staging block is the caller's until the copy out of it below, so it is not one of the
	// blocks drain frees.
	blk, err := b.pinned.Alloc(uint64(len(dst)))
	if err != nil {
		b.fail("Read", err)
		return b.drain()
	}
	defer b.pinned.Free(blk)
	b.fail("Read", b.stream.MemcpyAsync(acl.Ptr(blk.Ptr), s.ptr(), uint64(len(dst)), acl.DeviceToHost))
	if err := b.drain(); err != nil {
		return err
	}
	copy(dst, acl.HostBytes(acl.Ptr(blk.Ptr), len(dst)))
	return nil
}

// Copy queues a device-to-device copy.
func (b *Backend) Copy(src, dst ops.Tensor) {
	ops.CheckSame("Copy", src, dst)
	s, d := get("Copy", src), get("Copy", dst)
	if s.bytes() == 0 || s == d || b.failed() {
		return
	}
	b.fail("Copy", b.stream.MemcpyAsync(d.ptr(), s.ptr(), uint64(s.bytes()), acl.DeviceToDevice))
}

// Fill sets every element of t to v: a memset when every byte of the element is the same, else
// aclnnInplaceFillScalar with the element's exact bits.
func (b *Backend) Fill(t ops.Tensor, v float64) {
	c := get("Fill", t)
	bits := c.dtype.Encode(v)
	if c.shape.Numel() == 0 || b.failed() {
		return
	}
	size := c.dtype.Size()
	raw := make([]byte, size)
	for i := range raw {
		raw[i] = byte(bits >> (8 * i))
	}
	same := true
	for _, x := range raw[1:] {
		same = same && x == raw[0]
	}
	if same {
		b.fail("Fill", b.stream.MemsetAsync(c.ptr(), uint64(c.bytes()), raw[0]))
		return
	}
	k := b.newCall("Fill")
	ti := k.inout(c)
	vi := k.scalarRaw(aclType(c.dtype), raw)
	k.run(func(k *call) (*acl.Executor, error) { return b.dev.PrepareInplaceFillScalar(k.t(ti), k.sc(vi)) })
}

// Workspace implements acl.WorkspaceAllocator from the device allocator: the block goes back at
// once, which is safe because the launch is queued on the one stream every kernel uses.
func (b *Backend) Workspace(size uint64, s *acl.Stream) (acl.Ptr, error) {
	blk, err := b.allocBlock(size)
	if err != nil {
		return 0, err
	}
	b.freeBlock(blk)
	return acl.Ptr(blk.Ptr), nil
}

// Close waits for the queued work and releases every cached block and the device. A kernel failure
// is reported by Sync and Read, not here; Close returns only what went wrong releasing. Tensors still
// allocated go with the device.
func (b *Backend) Close() error {
	if b.closed {
		return nil
	}
	var collErr error
	for len(b.colls) > 0 { // before the device goes
		if err := b.colls[0].Close(); err != nil && collErr == nil {
			collErr = err
		}
	}
	b.closed = true
	for _, c := range b.consts {
		b.Free(c)
	}
	if b.finiteAc != nil {
		b.Free(b.finiteAc)
	}
	b.releasePacks()
	err := collErr
	keep := func(e error) {
		if err == nil {
			err = e
		}
	}
	b.dropExecutors()
	keep(b.stream.Synchronize())
	keep(b.releaseHeld())
	for ptr, p := range b.pinnedBufs { // buffers of AllocPinned never freed
		keep(p.event.Destroy())
		b.pinned.Free(p.blk)
		delete(b.pinnedBufs, ptr)
	}
	keep(b.pinned.Release())
	keep(b.mem.Release())
	keep(b.stream.Destroy())
	keep(b.dev.Close())
	return err
}

// constKey names a constant tensor the backend keeps: a plane of 1/(H*W) for the average pool's
// backward, the NLL loss's unit class weights.
type constKey struct {
	kind  string
	dtype ops.DType
	shape string
	value float64
}

// constant returns a tensor of the given shape filled with v, made once and kept until Close.
func (b *Backend) constant(kind string, dt ops.DType, shape ops.Shape, v float64) *tensor {
	k := constKey{kind, dt, fmt.Sprint(shape), v}
	if c, ok := b.consts[k]; ok {
		return c
	}
	c := b.Alloc(dt, shape).(*tensor)
	b.Fill(c, v)
	b.consts[k] = c
	return c
}

// scratch allocates a working tensor; give it back with b.Free (stream order makes that safe right
// after the last kernel that uses it is queued).
func (b *Backend) scratch(dt ops.DType, shape ...int) *tensor {
	return b.Alloc(dt, ops.Shape(shape)).(*tensor)
}

// must returns o, or panics with err: making an aclnn host object fails only on misuse or when the
// host is out of memory.
func must[T any](o T, err error) T {
	if err != nil {
		panic(fmt.Errorf("ascend: %w", err))
	}
	return o
}
