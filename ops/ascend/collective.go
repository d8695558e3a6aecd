//go:build cgo

package ascend

import (
	"errors"
	"fmt"

	"github.com/resnext/resnext/acl"
	"github.com/resnext/resnext/internal/devmem"
	"github.com/resnext/resnext/ops"
)

// Collective is an HCCL communicator of a backend: one rank of a data-parallel job, exchanging the
// backend's tensors with the other ranks' on their own devices. It implements ops.Collective (and
// so dist.Communicator).
//
// Streams and events: the collectives run on a stream of their own. StartAllReduce records an
// event at the end of the compute stream and makes the collective stream wait for it on the
// device, so the reduction reads the values the kernels queued before it computed, while kernels
// queued on the compute stream afterwards (the rest of a backward pass) do not wait for the
// reduction: the two overlap. Wait makes the compute stream wait, on the device, for an event
// recorded after the reduction; the host does not block. A bucket of several tensors is reduced
// by one HcclAllReduce: over the tensors' own memory when they lie back to back, else over a
// staging buffer the tensors are copied into (device to device, on the collective stream) and out
// of (on the compute stream, at Wait). A mean is the sum scaled by 1/Size (aclnnInplaceMuls) on the
// compute stream at Wait.
//
// Like the backend, a Collective is used by one goroutine at a time. Close it before the backend
// (the backend's Close closes the ones still open). The backend's NewCollective and
// NewCollectiveRankTable make one (ops.Collectives).
type Collective struct {
	b       *Backend
	comm    *acl.Comm
	stream  *acl.Stream
	pending []*bucket
	free    []*acl.Event
	retired []retiredEvent
	err     error // the first failure to queue a collective, sticky
	closed  bool
}

// bucket is one StartAllReduce not yet waited for.
type bucket struct {
	ts    []*tensor
	stage *tensor  // the staging buffer, nil when reduced in place
	offs  []uint64 // each tensor's offset in the staging buffer
	mean  bool
	ready *acl.Event // recorded on the compute stream, waited for by the collective stream
	done  *acl.Event // recorded on the collective stream after the reduction
}

// retiredEvent is an event whose last wait and reset were queued while the backend had synchronized
// its compute stream `at` times: it is reused once the backend has synchronized again (so that a
// reset still queued cannot clear a newer record).
type retiredEvent struct {
	e  *acl.Event
	at uint64
}

// stageAlign is the alignment of the tensors' slots in a staging buffer: device-to-device copies
// need 64-byte-aligned addresses.
const stageAlign = 64

var _ ops.Collectives = (*Backend)(nil)

// usableBackend returns why the backend cannot make a collective, or nil.
func (b *Backend) usableBackend(op string) error {
	if b.closed {
		return fmt.Errorf("ascend: %s: the backend is closed", op)
	}
	return nil
}

// CollectiveRootInfo makes the root info of a new communicator on the backend's device
// (HcclGetRootInfo): rank 0 calls it and sends the bytes to every other rank, which pass them to
// NewCollective. Rank 0's process hosts the meeting point, so rank 0 must call NewCollective in
// the same process.
func (b *Backend) CollectiveRootInfo() ([]byte, error) {
	if err := b.usableBackend("CollectiveRootInfo"); err != nil {
		return nil, err
	}
	ri, err := b.dev.HCCLRootInfo()
	if err != nil {
		return nil, fmt.Errorf("ascend: device %d: %w", b.dev.ID(), err)
	}
	return append([]byte(nil), ri[:]...), nil
}

// NewCollective joins rank of size ranks (HcclCommInitRootInfo) on the backend's device, meeting
// the others at the point rootInfo (rank 0's CollectiveRootInfo) names, and returns a *Collective.
// It waits for every rank up to HCCL's connect timeout (HCCL_CONNECT_TIMEOUT).
func (b *Backend) NewCollective(rootInfo []byte, rank, size int) (ops.Collective, error) {
	c, err := b.joinRootInfo(rootInfo, rank, size)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (b *Backend) joinRootInfo(rootInfo []byte, rank, size int) (*Collective, error) {
	if err := b.usableBackend("NewCollective"); err != nil {
		return nil, err
	}
	if len(rootInfo) != acl.RootInfoBytes {
		return nil, fmt.Errorf("ascend: NewCollective: a root info of %d bytes, want %d (the bytes rank 0's CollectiveRootInfo returned)",
			len(rootInfo), acl.RootInfoBytes)
	}
	var ri acl.RootInfo
	copy(ri[:], rootInfo)
	comm, err := b.dev.NewComm(size, &ri, rank)
	if err != nil {
		return nil, fmt.Errorf("ascend: %w", err)
	}
	return b.newCollective(comm)
}

// NewCollectiveRankTable joins rank of the job a rank table describes (HcclCommInitClusterInfo, as
// MindSpore's RANK_TABLE_FILE) and returns a *Collective: path is the JSON file. The table's
// device of rank must be the backend's.
func (b *Backend) NewCollectiveRankTable(path string, rank int) (ops.Collective, error) {
	if err := b.usableBackend("NewCollectiveRankTable"); err != nil {
		return nil, err
	}
	comm, err := b.dev.NewCommRankTable(path, rank)
	if err != nil {
		return nil, fmt.Errorf("ascend: %w", err)
	}
	return b.newCollective(comm)
}

func (b *Backend) newCollective(comm *acl.Comm) (*Collective, error) {
	s, err := b.dev.NewStream()
	if err != nil {
		comm.Destroy()
		return nil, fmt.Errorf("ascend: device %d: the collective stream: %w", b.dev.ID(), err)
	}
	c := &Collective{b: b, comm: comm, stream: s}
	b.colls = append(b.colls, c)
	return c, nil
}

// Rank is this rank, in [0, Size).
func (c *Collective) Rank() int { return c.comm.Rank() }

// Size is the number of ranks.
func (c *Collective) Size() int { return c.comm.Size() }

// hcclType is the HCCL type of the dtypes the collectives reduce.
func hcclType(dt ops.DType) (acl.HCCLDataType, bool) {
	switch dt {
	case ops.Float32:
		return acl.HCCLFloat32, true
	case ops.Float16:
		return acl.HCCLFloat16, true
	case ops.BFloat16:
		return acl.HCCLBFloat16, true
	}
	return 0, false
}

// usable returns why no collective can be queued now, or nil.
func (c *Collective) usable(op string) error {
	switch {
	case c.closed:
		return fmt.Errorf("ascend: %s: the collective is closed", op)
	case c.b.capture != nil:
		return fmt.Errorf("ascend: %s: collectives cannot be captured into a graph", op)
	case c.err != nil:
		return c.err
	}
	return c.b.failedErr()
}

// fail records the first failure to queue a collective and returns it.
func (c *Collective) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	if c.err == nil {
		c.err = fmt.Errorf("ascend: %s on rank %d of %d: %w", op, c.Rank(), c.Size(), err)
	}
	return c.err
}

// event returns an event no queued work still needs.
func (c *Collective) event() (*acl.Event, error) {
	syncs := c.b.syncs
	kept := c.retired[:0]
	for _, r := range c.retired {
		if r.at < syncs {
			c.free = append(c.free, r.e)
		} else {
			kept = append(kept, r)
		}
	}
	c.retired = kept
	if n := len(c.free); n > 0 {
		e := c.free[n-1]
		c.free = c.free[:n-1]
		return e, nil
	}
	return c.b.dev.NewEvent()
}

// follow makes the collective stream wait for the work queued so far on the compute stream, and
// returns the event it waits for (retire it once the collective is waited for).
func (c *Collective) follow() (*acl.Event, error) {
	e, err := c.event()
	if err != nil {
		return nil, err
	}
	if err = e.Record(c.b.stream); err == nil {
		if err = c.stream.WaitEvent(e); err == nil {
			err = e.Reset(c.stream)
		}
	}
	return e, err
}

// contiguousRun reports whether the tensors lie back to back in memory, in order.
func contiguousRun(ts []*tensor) bool {
	for i := 1; i < len(ts); i++ {
		if ts[i-1].ptr()+acl.Ptr(ts[i-1].bytes()) != ts[i].ptr() {
			return false
		}
	}
	return true
}

// StartAllReduce queues the sum (or the mean) over the ranks of every tensor of ts, one bucket of
// one dtype (Float32, Float16 or BFloat16), and returns without waiting: see the type's
// documentation for the streams. ts must be neither read nor written nor freed until Wait.
func (c *Collective) StartAllReduce(ts []ops.Tensor, mean bool) error {
	if len(ts) == 0 {
		return nil
	}
	const op = "AllReduce"
	if err := c.usable(op); err != nil {
		return err
	}
	tt := make([]*tensor, len(ts))
	for i, t := range ts {
		tt[i] = get(op, t)
		if tt[i].dtype != tt[0].dtype {
			return fmt.Errorf("ascend: AllReduce of a bucket of %v and %v tensors: one dtype per bucket", tt[0].dtype, tt[i].dtype)
		}
	}
	dt := tt[0].dtype
	hdt, ok := hcclType(dt)
	if !ok {
		return fmt.Errorf("ascend: AllReduce of a %v tensor: want float32, float16 or bfloat16", dt)
	}
	b := c.b
	bk := &bucket{ts: tt, mean: mean}
	var err error
	if bk.ready, err = c.follow(); err != nil {
		return c.fail(op, err)
	}
	buf, count := tt[0].ptr(), uint64(0)
	if contiguousRun(tt) {
		for _, t := range tt {
			count += uint64(t.shape.Numel())
		}
	} else {
		var size uint64
		bk.offs = make([]uint64, len(tt))
		for i, t := range tt {
			bk.offs[i] = size
			size += (uint64(t.bytes()) + stageAlign - 1) / stageAlign * stageAlign
		}
		count = size / uint64(dt.Size())
		bk.stage = b.scratch(dt, int(count))
		buf = bk.stage.ptr()
		for i, t := range tt {
			at, n := buf+acl.Ptr(bk.offs[i]), uint64(t.bytes())
			err = c.stream.MemcpyAsync(at, t.ptr(), n, acl.DeviceToDevice)
			if pad := (stageAlign - n%stageAlign) % stageAlign; err == nil && pad > 0 {
				err = c.stream.MemsetAsync(at+acl.Ptr(n), pad, 0) // the gaps are reduced too: zeros
			}
			if err != nil {
				return c.fail(op, err)
			}
		}
	}
	if err := c.comm.AllReduce(buf, buf, count, hdt, acl.HCCLSum, c.stream); err != nil {
		return c.fail(op, err)
	}
	if bk.done, err = c.event(); err == nil {
		err = bk.done.Record(c.stream)
	}
	if err != nil {
		return c.fail(op, err)
	}
	c.pending = append(c.pending, bk)
	return nil
}

// Wait orders every bucket started before it ahead of the kernels queued on the compute stream
// after it (the compute stream waits on the device; the host does not), with the means scaled and
// the staged tensors copied back. It returns the first failure to queue a collective, or the
// backend's recorded failure; a reduction that fails on the device (a rank that died or did not
// come) is reported by the backend's next Sync or Read, which wait for it.
func (c *Collective) Wait() error {
	b := c.b
	pending := c.pending
	c.pending = nil
	for _, bk := range pending {
		if err := c.finish(bk); err != nil {
			c.fail("AllReduce", err)
		}
	}
	if c.err != nil {
		return c.err
	}
	return b.failedErr()
}

// finish queues on the compute stream what follows a bucket's reduction.
func (c *Collective) finish(bk *bucket) error {
	b := c.b
	defer func() {
		c.retired = append(c.retired, retiredEvent{bk.ready, b.syncs}, retiredEvent{bk.done, b.syncs})
		if bk.stage != nil {
			b.Free(bk.stage) // later kernels that reuse it come after the copies back
		}
	}()
	if err := b.stream.WaitEvent(bk.done); err != nil {
		return err
	}
	if err := bk.done.Reset(b.stream); err != nil {
		return err
	}
	scale := 1 / float64(c.Size())
	if bk.stage != nil {
		if bk.mean {
			b.inplaceMuls("AllReduce", bk.stage, scale)
		}
		for i, t := range bk.ts {
			if err := b.stream.MemcpyAsync(t.ptr(), bk.stage.ptr()+acl.Ptr(bk.offs[i]), uint64(t.bytes()), acl.DeviceToDevice); err != nil {
				return err
			}
		}
		return nil
	}
	if !bk.mean {
		return nil
	}
	if len(bk.ts) == 1 {
		b.inplaceMuls("AllReduce", bk.ts[0], scale)
		return nil
	}
	// One scale over the run of tensors, seen as one flat tensor.
	n := 0
	for _, t := range bk.ts {
		n += t.shape.Numel()
	}
	run := &tensor{shape: ops.Shape{n}, dtype: bk.ts[0].dtype, owner: b,
		blk: devmem.Block{Ptr: bk.ts[0].blk.Ptr, Size: uint64(n * bk.ts[0].dtype.Size())}}
	b.inplaceMuls("AllReduce", run, scale)
	if run.desc != nil {
		b.later(run.desc)
	}
	return nil
}

// AllReduce is StartAllReduce of t then Wait.
func (c *Collective) AllReduce(t ops.Tensor, mean bool) error {
	if err := c.StartAllReduce([]ops.Tensor{t}, mean); err != nil {
		return err
	}
	return c.Wait()
}

// Broadcast copies root's t to every rank's t (HcclBroadcast of its bytes), after the work queued on
// the compute stream before it, and waits for it.
func (c *Collective) Broadcast(t ops.Tensor, root int) error {
	const op = "Broadcast"
	if err := c.usable(op); err != nil {
		return err
	}
	x := get(op, t)
	if root < 0 || root >= c.Size() {
		return fmt.Errorf("ascend: Broadcast from rank %d of %d", root, c.Size())
	}
	if x.bytes() == 0 {
		return nil
	}
	ready, err := c.follow()
	if err == nil {
		err = c.comm.Broadcast(x.ptr(), uint64(x.bytes()), acl.HCCLInt8, root, c.stream)
	}
	if err != nil {
		return c.fail(op, err)
	}
	return c.sync(op, ready)
}

// Barrier returns when every rank has reached it (HcclBarrier, waited for).
func (c *Collective) Barrier() error {
	const op = "Barrier"
	if err := c.usable(op); err != nil {
		return err
	}
	if err := c.comm.Barrier(c.stream); err != nil {
		return c.fail(op, err)
	}
	return c.sync(op, nil)
}

// sync waits for the collective stream; a failure there (a rank that died) is the backend's too.
func (c *Collective) sync(op string, ready *acl.Event) error {
	err := c.stream.Synchronize()
	if ready != nil {
		c.retired = append(c.retired, retiredEvent{ready, c.b.syncs})
	}
	if err != nil {
		err = fmt.Errorf("ascend: %s on rank %d of %d: %w", op, c.Rank(), c.Size(), err)
		c.b.fail(op, err)
		if c.err == nil {
			c.err = err
		}
	}
	return err
}

// Close waits for the collectives under way, then releases the communicator (HcclCommDestroy), its
// stream and events.
func (c *Collective) Close() error {
	if c.closed {
		return nil
	}
	b := c.b
	c.Wait() // its failures were reported already, or are the backend's
	c.closed = true
	if b.capture == nil {
		b.drain() // the compute stream's waits for the events below
	}
	errs := []error{c.stream.Synchronize(), c.comm.Destroy()}
	for _, e := range c.free {
		errs = append(errs, e.Destroy())
	}
	for _, r := range c.retired {
		errs = append(errs, r.e.Destroy())
	}
	c.free, c.retired = nil, nil
	errs = append(errs, c.stream.Destroy())
	for i, o := range b.colls {
		if o == c {
			b.colls = append(b.colls[:i], b.colls[i+1:]...)
			break
		}
	}
	return errors.Join(errs...)
}
