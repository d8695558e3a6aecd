package tcp

import (
	"fmt"
	"io"
	"sync"
	"time"
	"unsafe"

	"github.com/resnext/resnext/ops"
)

// Operations on the wire.
type opKind uint8

const (
	opAllReduceFloat32 opKind = 1
	opAllReduceFloat16 opKind = 2
	opBroadcast        opKind = 3
	opBarrier          opKind = 4
)

func (o opKind) String() string {
	switch o {
	case opAllReduceFloat32:
		return "all-reduce float32"
	case opAllReduceFloat16:
		return "all-reduce float16"
	case opBroadcast:
		return "broadcast"
	case opBarrier:
		return "barrier"
	}
	return fmt.Sprintf("op %d", uint8(o))
}

const flagMean = 1

// header precedes every message after the handshake.
type header struct {
	op      opKind
	flags   uint8
	step    uint16
	seq     uint64
	total   uint64 // elements in the whole buffer (bytes for broadcast)
	payload uint64 // bytes after the header
	arg     uint32 // broadcast root
}

func (h header) encode() [headerLen]byte {
	var b [headerLen]byte
	copy(b[:], magic[:])
	b[4] = byte(h.op)
	b[5] = h.flags
	le.PutUint16(b[6:], h.step)
	le.PutUint64(b[8:], h.seq)
	le.PutUint64(b[16:], h.total)
	le.PutUint64(b[24:], h.payload)
	le.PutUint32(b[32:], h.arg)
	return b
}

func decodeHeader(b *[headerLen]byte) (h header, ok bool) {
	if [4]byte(b[:4]) != magic || le.Uint32(b[36:]) != 0 {
		return header{}, false
	}
	return header{
		op:      opKind(b[4]),
		flags:   b[5],
		step:    le.Uint16(b[6:]),
		seq:     le.Uint64(b[8:]),
		total:   le.Uint64(b[16:]),
		payload: le.Uint64(b[24:]),
		arg:     le.Uint32(b[32:]),
	}, true
}

func (h header) String() string {
	return fmt.Sprintf("%v #%d step %d (length %d, flags %#x, arg %d, %d payload bytes)", h.op, h.seq, h.step, h.total, h.flags, h.arg, h.payload)
}

// AllReduceFloat32 sums buf over the ranks in place (mean divides by Size after the sum when mean is
// true). Every rank ends with the same bits.
func (r *Ring) AllReduceFloat32(buf []float32, mean bool) error {
	n := float32(r.size)
	reduce := func(dst, src []byte, last bool) {
		d, s := asFloat32(dst), asFloat32(src)
		s = s[:len(d)]
		if last && mean {
			for i := range d {
				d[i] = (s[i] + d[i]) / n
			}
			return
		}
		for i := range d {
			d[i] = s[i] + d[i]
		}
	}
	return r.allReduce(opAllReduceFloat32, float32Bytes(buf), 4, mean, reduce)
}

// AllReduceFloat16 sums buf, IEEE half floats stored as uint16, over the ranks in place (mean divides
// by Size after the sum when mean is true). Each addition is done in float32 and rounded to the nearest
// half, ties to even, when stored; the mean divides the last sum in float32 before rounding it.
func (r *Ring) AllReduceFloat16(buf []uint16, mean bool) error {
	n := float32(r.size)
	reduce := func(dst, src []byte, last bool) {
		d, s := asUint16(dst), asUint16(src)
		s = s[:len(d)]
		if last && mean {
			for i := range d {
				d[i] = ops.Float16Bits((ops.Float16Value(s[i]) + ops.Float16Value(d[i])) / n)
			}
			return
		}
		for i := range d {
			d[i] = ops.Float16Bits(ops.Float16Value(s[i]) + ops.Float16Value(d[i]))
		}
	}
	var b []byte
	if len(buf) > 0 {
		b = unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), 2*len(buf))
	}
	return r.allReduce(opAllReduceFloat16, b, 2, mean, reduce)
}

// Broadcast copies root's buf to every rank (same length everywhere).
func (r *Ring) Broadcast(buf []byte, root int) error {
	if root < 0 || root >= r.size {
		return fmt.Errorf("tcp ring: rank %d: broadcast root %d is not a rank of %d", r.rank, root, r.size)
	}
	return r.do(func(seq uint64) error {
		h := header{op: opBroadcast, seq: seq, total: uint64(len(buf)), payload: uint64(len(buf)), arg: uint32(root)}
		switch {
		case r.rank == root:
			return r.exchange(h, step{send: true, out: buf})
		case r.nextRank() == root:
			return r.exchange(h, step{recv: true, in: buf})
		}
		// Forward each chunk as soon as it has arrived.
		ready := make(chan int, len(buf)/r.chunk+2)
		return r.exchange(h, step{send: true, out: buf, ready: ready, recv: true, in: buf})
	})
}

// Barrier returns once every rank has called it.
func (r *Ring) Barrier() error {
	return r.do(func(seq uint64) error {
		for s := range r.size - 1 {
			if err := r.exchange(header{op: opBarrier, seq: seq, step: uint16(s)}, step{send: true, recv: true}); err != nil {
				return err
			}
		}
		return nil
	})
}

// do runs one operation: it checks the ring is usable, numbers the operation, sets its deadline and
// breaks the ring on an error.
func (r *Ring) do(op func(seq uint64) error) error {
	if r.size == 1 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return fmt.Errorf("tcp ring: rank %d: the ring is unusable after an earlier error: %w", r.rank, r.err)
	}
	if r.closed.Load() {
		return fmt.Errorf("tcp ring: rank %d: the ring is closed", r.rank)
	}
	r.seq++
	deadline := time.Now().Add(r.timeout)
	r.next.SetWriteDeadline(deadline)
	r.prev.SetReadDeadline(deadline)
	if err := op(r.seq); err != nil {
		r.err = err
		r.Close()
		return err
	}
	return nil
}

// allReduce runs the reduce-scatter and the all-gather over buf, elements of elem bytes. reduce adds
// src to dst element by element (received + local); last is true at the last reduce-scatter step.
func (r *Ring) allReduce(op opKind, buf []byte, elem int, mean bool, reduce func(dst, src []byte, last bool)) error {
	return r.do(func(seq uint64) error {
		n := len(buf) / elem
		seg := func(i int) []byte {
			i = (i%r.size + r.size) % r.size
			base, rem := n/r.size, n%r.size
			lo := i*base + min(i, rem)
			hi := lo + base
			if i < rem {
				hi++
			}
			return buf[lo*elem : hi*elem]
		}
		h := header{op: op, seq: seq, total: uint64(n)}
		if mean {
			h.flags = flagMean
		}
		for s := range r.size - 1 {
			h.step = uint16(s)
			last := s == r.size-2
			red := func(dst, src []byte) { reduce(dst, src, last) }
			if err := r.exchange(h, step{send: true, out: seg(r.rank - s), recv: true, in: seg(r.rank - s - 1), reduce: red}); err != nil {
				return err
			}
		}
		for t := range r.size - 1 {
			h.step = uint16(r.size - 1 + t)
			if err := r.exchange(h, step{send: true, out: seg(r.rank + 1 - t), recv: true, in: seg(r.rank - t)}); err != nil {
				return err
			}
		}
		return nil
	})
}

// step is what one rank does in one step of an operation.
type step struct {
	send   bool                  // send a message to rank+1
	out    []byte                // its payload
	ready  chan int              // when non-nil, how much of out has arrived from rank-1 (broadcast forwarding)
	recv   bool                  // receive a message from rank-1
	in     []byte                // where its payload goes
	reduce func(dst, src []byte) // when non-nil, reduces the payload into in instead of copying it
}

// exchange runs one step: it sends while it receives, both messages with header h. On the first error
// it closes the connections, which stops the other half at once.
func (r *Ring) exchange(h header, st step) error {
	var (
		first error
		once  sync.Once
		wg    sync.WaitGroup
	)
	fail := func(err error) {
		once.Do(func() {
			first = err
			r.next.Close()
			r.prev.Close()
		})
	}
	if st.send {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.send(h, st.out, st.ready); err != nil {
				fail(err)
			}
		}()
	}
	if st.recv {
		if err := r.recv(h, st.in, st.ready, st.reduce); err != nil {
			fail(err)
		}
	}
	wg.Wait()
	return first
}

// send writes a message to rank+1: header h and data in chunks (as ready allows, when non-nil).
func (r *Ring) send(h header, data []byte, ready <-chan int) error {
	h.payload = uint64(len(data))
	hb := h.encode()
	if _, err := r.next.Write(hb[:]); err != nil {
		return r.ioError("sending to", r.nextRank(), err)
	}
	for sent := 0; sent < len(data); {
		end := min(len(data), sent+r.chunk)
		if ready != nil {
			var ok bool
			if end, ok = <-ready; !ok {
				return nil // the receiving half failed and reports why
			}
		}
		if _, err := r.next.Write(data[sent:end]); err != nil {
			return r.ioError("sending to", r.nextRank(), err)
		}
		sent = end
	}
	return nil
}

// recv reads a message from rank-1, checks its header against want and copies its payload into dst,
// or reduces it into dst with reduce. When ready is non-nil it is told how far dst is filled, and
// closed at the end.
func (r *Ring) recv(want header, dst []byte, ready chan<- int, reduce func(dst, src []byte)) error {
	if ready != nil {
		defer close(ready)
	}
	var hb [headerLen]byte
	if _, err := io.ReadFull(r.prev, hb[:]); err != nil {
		return r.ioError("receiving from", r.prevRank(), err)
	}
	want.payload = uint64(len(dst))
	if err := r.checkHeader(&hb, want); err != nil {
		return err
	}
	if reduce != nil {
		return r.recvReduce(dst, reduce)
	}
	for got := 0; got < len(dst); {
		end := min(len(dst), got+r.chunk)
		if _, err := io.ReadFull(r.prev, dst[got:end]); err != nil {
			return r.ioError("receiving from", r.prevRank(), err)
		}
		got = end
		if ready != nil {
			ready <- got
		}
	}
	return nil
}

// recvReduce reads the payload in chunks into two scratch buffers, reducing one while the next
// arrives.
func (r *Ring) recvReduce(dst []byte, reduce func(dst, src []byte)) error {
	if len(dst) == 0 {
		return nil
	}
	size := min(r.chunk, len(dst))
	for i := range r.scratch {
		if len(r.scratch[i]) < size {
			r.scratch[i] = make([]byte, size)
		}
	}
	type piece struct {
		b   []byte
		off int
	}
	full := make(chan piece, len(r.scratch))
	free := make(chan []byte, len(r.scratch))
	for _, b := range r.scratch {
		free <- b[:size]
	}
	var err error
	go func() {
		defer close(full)
		for off := 0; off < len(dst); {
			b := <-free
			b = b[:min(len(b), len(dst)-off)]
			if _, rerr := io.ReadFull(r.prev, b); rerr != nil {
				err = r.ioError("receiving from", r.prevRank(), rerr)
				return
			}
			full <- piece{b, off}
			off += len(b)
		}
	}()
	for p := range full {
		reduce(dst[p.off:p.off+len(p.b)], p.b)
		free <- p.b[:size]
	}
	return err
}

// checkHeader compares a received header with the one this rank expects.
func (r *Ring) checkHeader(b *[headerLen]byte, want header) error {
	from := r.peer(r.prevRank())
	got, ok := decodeHeader(b)
	switch {
	case !ok:
		return fmt.Errorf("tcp ring: rank %d: %v: %s sent a message with bad magic or reserved bits (% x)", r.rank, want.op, from, b[:])
	case got.op != want.op || got.seq != want.seq || got.step != want.step:
		return fmt.Errorf("tcp ring: rank %d: unexpected message from %s: %v; expected %v #%d step %d (do all ranks call the same operations in the same order?)",
			r.rank, from, got, want.op, want.seq, want.step)
	case got.total != want.total:
		return fmt.Errorf("tcp ring: rank %d: length mismatch in %v #%d: %s has length %d, rank %d has %d",
			r.rank, want.op, want.seq, from, got.total, r.rank, want.total)
	case got.flags != want.flags:
		return fmt.Errorf("tcp ring: rank %d: %v #%d: %s has mean=%v, rank %d has mean=%v",
			r.rank, want.op, want.seq, from, got.flags&flagMean != 0, r.rank, want.flags&flagMean != 0)
	case got.arg != want.arg:
		return fmt.Errorf("tcp ring: rank %d: %v #%d: %s has root %d, rank %d has root %d", r.rank, want.op, want.seq, from, got.arg, r.rank, want.arg)
	case got.payload != want.payload:
		return fmt.Errorf("tcp ring: rank %d: unexpected message from %s: %v; expected %d payload bytes", r.rank, from, got, want.payload)
	}
	return nil
}

func float32Bytes(s []float32) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), 4*len(s))
}

func asFloat32(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

func asUint16(b []byte) []uint16 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2)
}
