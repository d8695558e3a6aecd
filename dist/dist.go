// Package dist is how the ranks of a data-parallel job meet and exchange tensors: the Communicator
// every implementation provides, and JoinTCP, which meets the other ranks through the job's scheduler
// (dist/rendezvous, run by resnext msrun on the master node) and connects them in a TCP ring
// (dist/tcp) for the CPU backend.
package dist

import (
	"context"
	"fmt"
	"net"
	"time"
	"unsafe"

	"github.com/resnext/resnext/dist/launch"
	"github.com/resnext/resnext/dist/rendezvous"
	"github.com/resnext/resnext/dist/tcp"
	"github.com/resnext/resnext/ops"
)

// Communicator exchanges the tensors of one backend between the ranks of a job. Every rank calls the
// same operations in the same order with tensors of the same shape and type.
type Communicator interface {
	// Rank is this rank, in [0, Size).
	Rank() int
	// Size is the number of ranks.
	Size() int
	// AllReduce sums t (Float32 or Float16) over the ranks in place, or averages it when mean is
	// true; every rank ends with the same bits.
	AllReduce(t ops.Tensor, mean bool) error
	// Broadcast copies root's t to every rank.
	Broadcast(t ops.Tensor, root int) error
	// Barrier returns when every rank has reached it.
	Barrier() error
	// Close releases the connections.
	Close() error
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
		l.Close()
		return nil, fmt.Errorf("dist: rank %d: %w", env.Rank, err)
	}
	defer c.Close()
	addrs, err := rendezvous.Join(ctx, c, env.Rank, env.Size, l.Addr().String(), timeout)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("dist: rank %d: %w", env.Rank, err)
	}
	r, err := tcp.New(ctx, env.Rank, env.Size, l, addrs, opts)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("dist: rank %d: %w", env.Rank, err)
	}
	return &hostComm{b: b, ring: r, l: l}, nil
}

// hostComm runs a tcp.Ring on copies of the tensors in host memory.
type hostComm struct {
	b    ops.Backend
	ring *tcp.Ring
	l    net.Listener
	buf  []byte
}

func (h *hostComm) Rank() int { return h.ring.Rank() }
func (h *hostComm) Size() int { return h.ring.Size() }

// host reads t into the communicator's buffer.
func (h *hostComm) host(t ops.Tensor) ([]byte, error) {
	n := t.Shape().Numel() * t.DType().Size()
	if cap(h.buf) < n {
		h.buf = make([]byte, n)
	}
	buf := h.buf[:n]
	if err := h.b.Read(t, buf); err != nil {
		return nil, fmt.Errorf("dist: reading a %v %v tensor: %w", t.Shape(), t.DType(), err)
	}
	return buf, nil
}

func (h *hostComm) AllReduce(t ops.Tensor, mean bool) error {
	if dt := t.DType(); dt != ops.Float32 && dt != ops.Float16 {
		return fmt.Errorf("dist: AllReduce of a %v tensor: want float32 or float16", dt)
	}
	buf, err := h.host(t)
	if err != nil || len(buf) == 0 {
		return err
	}
	if t.DType() == ops.Float32 {
		err = h.ring.AllReduceFloat32(unsafe.Slice((*float32)(unsafe.Pointer(&buf[0])), len(buf)/4), mean)
	} else {
		err = h.ring.AllReduceFloat16(unsafe.Slice((*uint16)(unsafe.Pointer(&buf[0])), len(buf)/2), mean)
	}
	if err != nil {
		return err
	}
	h.b.Write(t, buf)
	return nil
}

func (h *hostComm) Broadcast(t ops.Tensor, root int) error {
	buf, err := h.host(t)
	if err != nil {
		return err
	}
	if err := h.ring.Broadcast(buf, root); err != nil {
		return err
	}
	h.b.Write(t, buf)
	return nil
}

func (h *hostComm) Barrier() error { return h.ring.Barrier() }

func (h *hostComm) Close() error {
	err := h.ring.Close()
	if e := h.l.Close(); err == nil {
		err = e
	}
	return err
}
