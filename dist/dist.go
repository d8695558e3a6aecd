// Package dist is how the ranks of a data-parallel job meet and exchange tensors: the Communicator
// every implementation provides, and JoinTCP, which meets the other ranks through the job's scheduler
// (dist/rendezvous, run by resnext msrun on the master node) and connects them in a TCP ring
// (dist/tcp) for the CPU backend.
package dist

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
	"unsafe"

	"github.com/resnext/resnext/dist/launch"
	"github.com/resnext/resnext/dist/rendezvous"
	"github.com/resnext/resnext/dist/tcp"
	"github.com/resnext/resnext/ops"
)

// Communicator exchanges the tensors of one backend between the ranks of a job. Every rank calls the
// same operations in the same order with tensors of the same shapes and types. A Communicator is used
// by one goroutine at a time.
type Communicator interface {
	// Rank is this rank, in [0, Size).
	Rank() int
	// Size is the number of ranks.
	Size() int
	// AllReduce sums t (Float32 or Float16) over the ranks in place, or averages it when mean is
	// true; every rank ends with the same bits. It is StartAllReduce of t then Wait.
	AllReduce(t ops.Tensor, mean bool) error
	// StartAllReduce begins AllReduce of every tensor of ts (one bucket: tensors of one dtype,
	// Float32 or Float16) and returns without waiting for the other ranks, so the caller can go on
	// computing (a backward pass) while the bucket travels. The values of ts must be computed when
	// it is called (a device backend orders this itself), and ts must be neither read nor written
	// until Wait returns.
	StartAllReduce(ts []ops.Tensor, mean bool) error
	// Wait returns when every bucket started is reduced and written back (for a device backend:
	// ordered before any kernel queued after Wait). It returns the first error of any of them.
	Wait() error
	// Broadcast copies root's t to every rank.
	Broadcast(t ops.Tensor, root int) error
	// Barrier returns when every rank has reached it.
	Barrier() error
	// Close releases the connections.
	Close() error
}

// Join connects this rank to the other ranks of the job env describes, with the communicator that
// suits b: HCCL for a backend with device collectives (Ascend; JoinHCCL, through a rank table when
// RANK_TABLE_FILE names one), else a TCP ring (JoinTCP) listening on the address from which this
// host reaches the master (RESNEXT_HOST_IP overrides it), with opts. Under a launcher that runs no
// scheduler of ours (Slurm's srun, torchrun) rank 0 serves it (Env.ServesScheduler) until the
// communicator is closed.
func Join(ctx context.Context, b ops.Backend, env launch.Env, opts tcp.Options) (Communicator, error) {
	var srv *rendezvous.Server
	if env.ServesScheduler() {
		var err error
		if srv, err = rendezvous.Listen(net.JoinHostPort("", strconv.Itoa(env.SchedulerPort()))); err != nil {
			return nil, fmt.Errorf("dist: rank 0 serves the job's scheduler (under %s): %w; another job may hold port %d: give the job another MASTER_PORT",
				env.Launcher, err, env.SchedulerPort())
		}
	}
	var c Communicator
	var err error
	if Transport(b) == "HCCL" {
		c, err = JoinHCCL(ctx, b, env, HCCLOptions{})
	} else {
		var host string
		if host, err = ringHost(env, os.Getenv("RESNEXT_HOST_IP")); err == nil {
			c, err = JoinTCP(ctx, b, env, host, opts)
		}
	}
	if err == nil {
		if srv == nil {
			return c, nil
		}
		return &serving{Communicator: c, srv: srv}, nil
	}
	if srv != nil {
		srv.Close()
	}
	return nil, err
}

// Transport names how Join connects b's ranks: "HCCL" for a backend with device collectives, else
// "TCP ring".
func Transport(b ops.Backend) string {
	if _, ok := b.(ops.Collectives); ok {
		return "HCCL"
	}
	return "TCP ring"
}

// serving is a communicator whose rank serves the job's scheduler.
type serving struct {
	Communicator
	srv *rendezvous.Server
}

func (s *serving) Close() error {
	err := s.Communicator.Close()
	if e := s.srv.Close(); err == nil {
		err = e
	}
	return err
}

// ringHost is the address this rank's peers reach it on: override when set, the loopback address when
// the master is on this host's loopback (one node), else the address of the interface that routes to
// the master (no packet is sent to find it).
func ringHost(env launch.Env, override string) (string, error) {
	if override != "" {
		if net.ParseIP(override) == nil {
			return "", fmt.Errorf("dist: RESNEXT_HOST_IP=%q is not an IP address", override)
		}
		return override, nil
	}
	if ip := net.ParseIP(env.MasterAddr); ip != nil && ip.IsLoopback() || env.MasterAddr == "localhost" {
		return "127.0.0.1", nil
	}
	c, err := net.Dial("udp", env.Addr())
	if err != nil {
		return "", fmt.Errorf("dist: rank %d: finding the address on which the other ranks reach this host (the route to the master %s): %w; set RESNEXT_HOST_IP",
			env.Rank, env.Addr(), err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String(), nil
}

// JoinTCP meets the other ranks of the job env describes through its scheduler, listening for its
// ring neighbour on host (an address the other ranks can reach: 127.0.0.1 on one node), and returns a
// Communicator over a TCP ring that exchanges b's tensors through host memory. It waits for the other
// ranks up to env's cluster timeout; opts are the ring's.
func JoinTCP(ctx context.Context, b ops.Backend, env launch.Env, host string, opts tcp.Options) (Communicator, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("dist: rank %d: listening on %s for the ring: %w", env.Rank, host, err)
	}
	c, addrs, _, err := meet(ctx, env, l.Addr().String())
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("dist: rank %d: %w", env.Rank, err)
	}
	c.Close()
	r, err := tcp.New(ctx, env.Rank, env.Size, l, addrs, opts)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("dist: rank %d: %w", env.Rank, err)
	}
	return newHostComm(b, r, l), nil
}

// meet dials the job's scheduler and registers this rank there with self, the address its peers
// reach it on (rendezvous.Join in the attempt's scope), waiting for the other ranks up to env's
// cluster timeout. It returns the open client, every rank's address in rank order, and that timeout
// (0: no limit).
func meet(ctx context.Context, env launch.Env, self string) (*rendezvous.Client, []string, time.Duration, error) {
	timeout := env.ClusterTimeout
	if env.Forever() {
		timeout = 0
	}
	dial := timeout
	if dial <= 0 {
		dial = 24 * time.Hour
	}
	c, err := rendezvous.Dial(ctx, env.Addr(), dial)
	if err != nil {
		return nil, nil, 0, err
	}
	addrs, err := rendezvous.Join(ctx, c, env.Scope(), env.Rank, env.Size, self, timeout)
	if err != nil {
		c.Close()
		return nil, nil, 0, err
	}
	return c, addrs, timeout, nil
}

// hostComm runs a tcp.Ring on copies of the tensors in host memory. The ring's operations run one
// after another on a goroutine of their own, so that a bucket travels while the caller computes;
// tensors are read and written on the caller's goroutine only.
type hostComm struct {
	b    ops.Backend
	ring *tcp.Ring
	l    net.Listener

	jobs    chan *ringOp // to the ring's goroutine, in order
	done    chan struct{}
	pending []*ringOp // started, not yet waited for
	free    [][]byte
}

// ringOp is one operation of the ring: a bucket of tensors and its host buffer.
type ringOp struct {
	ts    []ops.Tensor
	buf   []byte
	run   func(buf []byte) error
	errc  chan error
	write bool // write buf back into ts once done
}

func newHostComm(b ops.Backend, r *tcp.Ring, l net.Listener) *hostComm {
	h := &hostComm{b: b, ring: r, l: l, jobs: make(chan *ringOp, 64), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for j := range h.jobs {
			j.errc <- j.run(j.buf)
		}
	}()
	return h
}

func (h *hostComm) Rank() int { return h.ring.Rank() }
func (h *hostComm) Size() int { return h.ring.Size() }

// buffer returns a host buffer of n bytes, reusing one a finished job gave back.
func (h *hostComm) buffer(n int) []byte {
	for i, b := range h.free {
		if cap(b) >= n {
			h.free = append(h.free[:i], h.free[i+1:]...)
			return b[:n]
		}
	}
	return make([]byte, n)
}

// submit reads ts into a host buffer and queues run on it.
func (h *hostComm) submit(ts []ops.Tensor, write bool, run func([]byte) error) error {
	n := 0
	for _, t := range ts {
		n += t.Shape().Numel() * t.DType().Size()
	}
	buf := h.buffer(n)
	off := 0
	for _, t := range ts {
		m := t.Shape().Numel() * t.DType().Size()
		if err := h.b.Read(t, buf[off:off+m]); err != nil {
			h.free = append(h.free, buf)
			return fmt.Errorf("dist: reading a %v %v tensor: %w", t.Shape(), t.DType(), err)
		}
		off += m
	}
	j := &ringOp{ts: ts, buf: buf, run: run, errc: make(chan error, 1), write: write}
	h.pending = append(h.pending, j)
	h.jobs <- j
	return nil
}

func (h *hostComm) StartAllReduce(ts []ops.Tensor, mean bool) error {
	if len(ts) == 0 {
		return nil
	}
	dt := ts[0].DType()
	for _, t := range ts {
		if t.DType() != dt {
			return fmt.Errorf("dist: AllReduce of a bucket of %v and %v tensors: one dtype per bucket", dt, t.DType())
		}
	}
	var run func([]byte) error
	switch dt {
	case ops.Float32:
		run = func(b []byte) error {
			if len(b) == 0 {
				return nil
			}
			return h.ring.AllReduceFloat32(unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4), mean)
		}
	case ops.Float16:
		run = func(b []byte) error {
			if len(b) == 0 {
				return nil
			}
			return h.ring.AllReduceFloat16(unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2), mean)
		}
	default:
		return fmt.Errorf("dist: AllReduce of a %v tensor: want float32 or float16", dt)
	}
	return h.submit(ts, true, run)
}

func (h *hostComm) Wait() error {
	var first error
	for _, j := range h.pending {
		err := <-j.errc
		if err == nil && j.write {
			off := 0
			for _, t := range j.ts {
				m := t.Shape().Numel() * t.DType().Size()
				h.b.Write(t, j.buf[off:off+m])
				off += m
			}
		}
		if first == nil {
			first = err
		}
		h.free = append(h.free, j.buf)
	}
	h.pending = h.pending[:0]
	return first
}

func (h *hostComm) AllReduce(t ops.Tensor, mean bool) error {
	if err := h.StartAllReduce([]ops.Tensor{t}, mean); err != nil {
		return err
	}
	return h.Wait()
}

func (h *hostComm) Broadcast(t ops.Tensor, root int) error {
	if err := h.submit([]ops.Tensor{t}, true, func(b []byte) error { return h.ring.Broadcast(b, root) }); err != nil {
		return err
	}
	return h.Wait()
}

func (h *hostComm) Barrier() error {
	if err := h.submit(nil, false, func([]byte) error { return h.ring.Barrier() }); err != nil {
		return err
	}
	return h.Wait()
}

// Close waits for the operations under way and closes the ring.
func (h *hostComm) Close() error {
	close(h.jobs)
	<-h.done
	h.Wait()
	err := h.ring.Close()
	if e := h.l.Close(); err == nil {
		err = e
	}
	return err
}
