package tcp

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Options tune a Ring.
type Options struct {
	Timeout    time.Duration // per operation, for a peer that stalls (0: 5 minutes)
	ChunkBytes int           // pipelining chunk (0: 4 MiB)
}

const (
	defaultTimeout    = 5 * time.Minute
	defaultChunkBytes = 4 << 20
	helloLen          = 32
	headerLen         = 40
	wireVersion       = 1
	// handshakeWait bounds how long an accepted connection may take to send its hello.
	handshakeWait = 10 * time.Second
)

var (
	magic = [4]byte{'R', 'X', 'T', 'C'}
	le    = binary.LittleEndian
	// longAgo is a deadline in the past, to wake a blocked Accept or Read.
	longAgo = time.Unix(1, 0)
)

// Hello kinds.
const (
	helloConnect = 1
	helloAccept  = 2
	helloRefuse  = 3
)

// refuseReasons are the reasons of a refuse hello, by code.
var refuseReasons = [...]string{
	1: "bad magic or version",
	2: "unexpected hello kind",
	3: "wrong sender rank",
	4: "wrong destination rank",
	5: "the number of ranks differs",
	6: "the job token differs (another job, or a different address list)",
}

func reasonText(code uint32) string {
	if int(code) < len(refuseReasons) && refuseReasons[code] != "" {
		return refuseReasons[code]
	}
	return "reason " + strconv.Itoa(int(code))
}

// Ring is one rank's end of a ring over TCP.
type Ring struct {
	rank, size int
	addrs      []string
	timeout    time.Duration
	chunk      int       // bytes, a multiple of 4
	next       net.Conn  // to rank+1; this rank only sends on it
	prev       net.Conn  // from rank-1; this rank only receives on it
	scratch    [2][]byte // receive buffers for reductions

	mu  sync.Mutex // one operation at a time
	seq uint64
	err error // the error that broke the ring

	closed    atomic.Bool
	closeOnce sync.Once
}

// New connects rank to its neighbours: listener is this rank's own (already listening, its address
// published to the others by the caller), addrs[i] is rank i's listener address. It dials rank+1 and
// accepts rank-1 (a handshake checks ranks, size and a job token so a stray connection is refused),
// retrying until opts.Timeout or ctx ends. The caller keeps the listener and closes it. With size 1
// New connects nothing and every operation returns at once.
func New(ctx context.Context, rank, size int, listener net.Listener, addrs []string, opts Options) (*Ring, error) {
	if size < 1 || rank < 0 || rank >= size {
		return nil, fmt.Errorf("tcp ring: rank %d of %d: the rank must be in [0, size) and the size at least 1", rank, size)
	}
	if len(addrs) != size {
		return nil, fmt.Errorf("tcp ring: rank %d: %d addresses for %d ranks: give one listener address per rank", rank, len(addrs), size)
	}
	if !littleEndian() {
		return nil, fmt.Errorf("tcp ring: rank %d: this host is big-endian; the package supports little-endian hosts only", rank)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = defaultChunkBytes
	}
	r := &Ring{
		rank:    rank,
		size:    size,
		addrs:   append([]string(nil), addrs...),
		timeout: opts.Timeout,
		chunk:   max(4, opts.ChunkBytes&^3),
	}
	if size == 1 {
		return r, nil
	}
	if listener == nil {
		return nil, fmt.Errorf("tcp ring: rank %d: no listener", rank)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	token := jobToken(size, addrs)

	type result struct {
		conn net.Conn
		err  error
	}
	dialed, accepted := make(chan result, 1), make(chan result, 1)
	go func() {
		c, err := r.dial(ctx, token)
		if err != nil {
			cancel() // stop waiting for the other side
		}
		dialed <- result{c, err}
	}()
	go func() {
		c, err := r.accept(ctx, listener, token)
		if err != nil {
			cancel()
		}
		accepted <- result{c, err}
	}()
	// Report the error that came first: the other side then only saw the cancellation.
	var d, a result
	var first error
	for range 2 {
		select {
		case d = <-dialed:
			first = cmp.Or(first, d.err)
		case a = <-accepted:
			first = cmp.Or(first, a.err)
		}
	}
	if first != nil {
		for _, c := range []net.Conn{d.conn, a.conn} {
			if c != nil {
				c.Close()
			}
		}
		return nil, first
	}
	r.next, r.prev = d.conn, a.conn
	return r, nil
}

// peer names rank i and its address.
func (r *Ring) peer(i int) string { return fmt.Sprintf("rank %d (%s)", i, r.addrs[i]) }

func (r *Ring) nextRank() int { return (r.rank + 1) % r.size }
func (r *Ring) prevRank() int { return (r.rank + r.size - 1) % r.size }

// dial connects to rank+1 and makes the handshake, retrying until ctx ends; a refusal is final.
func (r *Ring) dial(ctx context.Context, token uint64) (net.Conn, error) {
	peer := r.nextRank()
	var d net.Dialer
	wait := 10 * time.Millisecond
	var last error
	for {
		c, err := d.DialContext(ctx, "tcp", r.addrs[peer])
		if err == nil {
			final, herr := r.helloDial(ctx, c, peer, token)
			if herr == nil {
				return c, nil
			}
			c.Close()
			if final {
				return nil, herr
			}
			err = herr
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("tcp ring: rank %d: connecting to %s: no handshake within %v: last error: %w", r.rank, r.peer(peer), r.timeout, last)
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// helloDial sends the connect hello on c and reads the answer. final reports an answer that retrying
// will not change (a refusal, or something that is not this job's rank).
func (r *Ring) helloDial(ctx context.Context, c net.Conn, peer int, token uint64) (final bool, err error) {
	defer watchDeadline(ctx, c)()
	out := hello{kind: helloConnect, from: uint32(r.rank), to: uint32(peer), size: uint32(r.size), token: token}
	if _, err := c.Write(out.encode()); err != nil {
		return false, err
	}
	var b [helloLen]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return false, err
	}
	in, ok := decodeHello(b[:])
	switch {
	case !ok:
		return true, fmt.Errorf("tcp ring: rank %d: %s answered the handshake with bad magic or version: is it a rank of this job?", r.rank, r.peer(peer))
	case in.kind == helloRefuse:
		return true, fmt.Errorf("tcp ring: rank %d: %s refused the handshake: %s", r.rank, r.peer(peer), reasonText(in.reason))
	case in.kind != helloAccept || in.from != uint32(peer) || in.to != uint32(r.rank) || in.size != uint32(r.size) || in.token != token:
		return true, fmt.Errorf("tcp ring: rank %d: %s answered the handshake with kind %d from rank %d to rank %d of %d: is it a rank of this job?",
			r.rank, r.peer(peer), in.kind, in.from, in.to, in.size)
	}
	return false, nil
}

// accept waits for rank-1's connection, refusing any other, until ctx ends.
func (r *Ring) accept(ctx context.Context, l net.Listener, token uint64) (net.Conn, error) {
	peer := r.prevRank()
	if dl, ok := l.(interface{ SetDeadline(time.Time) error }); ok {
		deadline, _ := ctx.Deadline()
		dl.SetDeadline(deadline)
		stop := context.AfterFunc(ctx, func() { dl.SetDeadline(longAgo) })
		defer func() {
			stop()
			dl.SetDeadline(time.Time{})
		}()
	}
	var refused []string
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
				msg := ""
				if len(refused) > 0 {
					msg = fmt.Sprintf(" (refused: %v)", refused)
				}
				return nil, fmt.Errorf("tcp ring: rank %d: waiting for %s to connect: no valid connection within %v%s", r.rank, r.peer(peer), r.timeout, msg)
			}
			return nil, fmt.Errorf("tcp ring: rank %d: waiting for %s to connect: %w", r.rank, r.peer(peer), err)
		}
		reason, err := r.helloAccept(ctx, c, peer, token)
		if err == nil && reason == 0 {
			return c, nil
		}
		c.Close()
		what := fmt.Sprint(c.RemoteAddr(), ": ")
		if err != nil {
			what += err.Error()
		} else {
			what += reasonText(reason)
		}
		refused = append(refused, what)
	}
}

// helloAccept reads the connect hello on an accepted connection and answers it; reason is 0 when the
// connection is rank-1's.
func (r *Ring) helloAccept(ctx context.Context, c net.Conn, peer int, token uint64) (reason uint32, err error) {
	defer watchDeadline(ctx, c)()
	c.SetDeadline(time.Now().Add(handshakeWait))
	var b [helloLen]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return 0, err
	}
	in, ok := decodeHello(b[:])
	switch {
	case !ok:
		reason = 1
	case in.kind != helloConnect:
		reason = 2
	case in.from != uint32(peer):
		reason = 3
	case in.to != uint32(r.rank):
		reason = 4
	case in.size != uint32(r.size):
		reason = 5
	case in.token != token:
		reason = 6
	}
	out := hello{kind: helloAccept, from: uint32(r.rank), to: in.from, size: uint32(r.size), token: token}
	if reason != 0 {
		out = hello{kind: helloRefuse, from: uint32(r.rank), to: in.from, size: uint32(r.size), reason: reason}
	}
	if _, err := c.Write(out.encode()); err != nil {
		return reason, err
	}
	return reason, nil
}

// watchDeadline bounds c's I/O by ctx (its deadline, and an early wake-up when it is cancelled); the
// returned function lifts the bound.
func watchDeadline(ctx context.Context, c net.Conn) func() {
	if deadline, ok := ctx.Deadline(); ok {
		c.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(longAgo) })
	return func() {
		stop()
		c.SetDeadline(time.Time{})
	}
}

// hello is the first message on a connection.
type hello struct {
	kind                   uint16
	from, to, size, reason uint32
	token                  uint64
}

func (h hello) encode() []byte {
	b := make([]byte, helloLen)
	copy(b, magic[:])
	le.PutUint16(b[4:], wireVersion)
	le.PutUint16(b[6:], h.kind)
	le.PutUint32(b[8:], h.from)
	le.PutUint32(b[12:], h.to)
	le.PutUint32(b[16:], h.size)
	le.PutUint32(b[20:], h.reason)
	le.PutUint64(b[24:], h.token)
	return b
}

// decodeHello reads a hello; ok is false when the magic or version is wrong.
func decodeHello(b []byte) (h hello, ok bool) {
	if [4]byte(b[:4]) != magic || le.Uint16(b[4:]) != wireVersion {
		return hello{}, false
	}
	return hello{
		kind:   le.Uint16(b[6:]),
		from:   le.Uint32(b[8:]),
		to:     le.Uint32(b[12:]),
		size:   le.Uint32(b[16:]),
		reason: le.Uint32(b[20:]),
		token:  le.Uint64(b[24:]),
	}, true
}

// jobToken identifies a job by its size and address list.
func jobToken(size int, addrs []string) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "resnext/dist/tcp\x00%d", size)
	for _, a := range addrs {
		io.WriteString(h, "\x00"+a)
	}
	return h.Sum64()
}

// Rank is this rank's number, in [0, Size).
func (r *Ring) Rank() int { return r.rank }

// Size is the number of ranks.
func (r *Ring) Size() int { return r.size }

// Close closes the ring's connections; an operation in progress on this or another rank fails. Close
// may be called at any time, more than once.
func (r *Ring) Close() error {
	var err error
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		if r.next != nil {
			err = errors.Join(r.next.Close(), r.prev.Close())
		}
	})
	return err
}

// timeoutError is an operation's deadline passing.
type timeoutError struct{ after time.Duration }

func (e timeoutError) Error() string { return fmt.Sprintf("i/o timeout after %v", e.after) }
func (e timeoutError) Timeout() bool { return true }
func (e timeoutError) Unwrap() error { return os.ErrDeadlineExceeded }

// ioError wraps an error of sending to or receiving from a peer ("sending to", "receiving from").
func (r *Ring) ioError(verb string, peer int, err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = timeoutError{r.timeout}
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		err = fmt.Errorf("connection closed by the peer (%w)", err)
	case errors.Is(err, net.ErrClosed):
		err = fmt.Errorf("connection closed on this side (%w)", err)
	}
	return fmt.Errorf("tcp ring: rank %d: %s %s: %w", r.rank, verb, r.peer(peer), err)
}

func littleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}
