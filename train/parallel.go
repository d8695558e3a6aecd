package train

import (
	"fmt"
	"math"
	"strings"

	"github.com/resnext/resnext/dist"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// parallel is the data-parallel part of a Trainer (Options.Comm): the gradients of each step are
// averaged over the ranks in buckets started while the backward pass goes on (dist.Buckets); the
// ranks start from rank 0's state and agree at every step on whether to stop.
type parallel struct {
	comm    dist.Communicator
	b       ops.Backend
	buckets *dist.Buckets

	// stop holds this rank's wish to stop after the step (1) or not (0); it travels with the last
	// bucket, so that every rank learns of any rank's wish at the same step.
	stop ops.Tensor
	one  []byte // 1 and 0 as float32 bytes
	zero []byte
}

func newParallel(b ops.Backend, comm dist.Communicator, capMB float64) *parallel {
	p := &parallel{comm: comm, b: b, buckets: dist.NewBuckets(comm, capMB)}
	p.stop = b.Alloc(ops.Float32, ops.Shape{1})
	p.one = ops.Bytes([]float32{1})
	p.zero = ops.Bytes([]float32{0})
	return p
}

func (p *parallel) free() {
	if p.stop != nil {
		p.b.Free(p.stop)
		p.stop = nil
	}
}

// finish follows the backward pass: the last bucket, with this rank's wish to stop, is started and
// every bucket awaited. It returns whether any rank wishes to stop after this step.
func (p *parallel) finish(stop bool) (bool, error) {
	flag := p.zero
	if stop {
		flag = p.one
	}
	p.b.Write(p.stop, flag)
	if err := p.buckets.Finish(p.stop); err != nil {
		return false, err
	}
	v, err := ops.ToFloat32(p.b, p.stop)
	if err != nil {
		return false, err
	}
	return v[0] > 0, nil
}

// mean averages the scalar t (the sum of the losses) over the ranks.
func (p *parallel) mean(t ops.Tensor) error {
	if err := p.comm.AllReduce(t, true); err != nil {
		return fmt.Errorf("averaging the loss over %d ranks: %w", p.comm.Size(), err)
	}
	return nil
}

// broadcast makes every tensor of ts rank 0's.
func (p *parallel) broadcast(what string, ts []ops.Tensor) error {
	for _, t := range ts {
		if err := p.comm.Broadcast(t, 0); err != nil {
			return fmt.Errorf("rank %d: receiving %s from rank 0: %w", p.comm.Rank(), what, err)
		}
	}
	return nil
}

// broadcastInts makes vs rank 0's. The values travel as float32, exact below 2^24; larger ones are
// refused.
func (p *parallel) broadcastInts(what string, vs []*int) error {
	host := make([]float32, len(vs))
	for i, v := range vs {
		if *v < 0 || *v >= 1<<24 {
			return fmt.Errorf("rank %d: %s value %d is outside what the ranks exchange (0..2^24)", p.comm.Rank(), what, *v)
		}
		host[i] = float32(*v)
	}
	if err := p.broadcastHost(what, host); err != nil {
		return err
	}
	for i, v := range vs {
		*v = int(host[i])
	}
	return nil
}

// broadcastFloat makes v rank 0's (the loss scale: a power of two, exact in float32).
func (p *parallel) broadcastFloat(what string, v *float64) error {
	if math.IsNaN(*v) || math.IsInf(*v, 0) || math.Abs(*v) > math.MaxFloat32 {
		return fmt.Errorf("rank %d: %s %v cannot be exchanged", p.comm.Rank(), what, *v)
	}
	host := []float32{float32(*v)}
	if err := p.broadcastHost(what, host); err != nil {
		return err
	}
	*v = float64(host[0])
	return nil
}

// broadcastHost makes the values of host rank 0's, through a tensor of the backend.
func (p *parallel) broadcastHost(what string, host []float32) error {
	t := ops.FromFloat32(p.b, ops.Float32, ops.Shape{len(host)}, host)
	defer p.b.Free(t)
	if err := p.broadcast(what, []ops.Tensor{t}); err != nil {
		return err
	}
	got, err := ops.ToFloat32(p.b, t)
	if err != nil {
		return err
	}
	copy(host, got)
	return nil
}

// borrowStatistics gives this rank rank 0's batch-norm moving statistics and returns the function
// that puts its own back.
func (p *parallel) borrowStatistics(ps []*nn.Param) (restore func(), err error) {
	var ts []ops.Tensor
	var own [][]byte
	for _, q := range ps {
		if q.Trainable || !strings.HasSuffix(q.Name, ".moving_mean") && !strings.HasSuffix(q.Name, ".moving_variance") {
			continue
		}
		buf := make([]byte, q.Value.Shape().Numel()*q.Value.DType().Size())
		if err := p.b.Read(q.Value, buf); err != nil {
			return nil, err
		}
		ts, own = append(ts, q.Value), append(own, buf)
	}
	restore = func() {
		for i, t := range ts {
			p.b.Write(t, own[i])
		}
	}
	if err := p.broadcast("the batch-norm statistics", ts); err != nil {
		restore()
		return nil, err
	}
	return restore, nil
}
