package dist

import (
	"fmt"

	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// Buckets averages the gradients of a backward pass over the ranks while the pass goes on, as
// PyTorch's DistributedDataParallel and MindSpore's gradient fusion do: Ready, called as the pass
// writes each layer's gradients (resnext.Model.OnGrads), gathers them into buckets of about CapBytes
// and starts each one as soon as it is full; Finish starts the rest and waits for all. Every rank
// must see the same parameters in the same order.
type Buckets struct {
	comm     Communicator
	capBytes int
	bucket   []ops.Tensor
	bytes    int
	err      error // the first failure to start a bucket in this pass
	started  bool  // a bucket of this pass has been started
}

// DefaultBucketCapMB is the default bucket size in MiB (PyTorch DDP's bucket_cap_mb).
const DefaultBucketCapMB = 25

// firstBucketBytes bounds the first bucket of a pass (the classifier's and the last blocks'
// gradients), so that averaging starts early; PyTorch's DDP does the same.
const firstBucketBytes = 1 << 20

// NewBuckets averages gradients over comm in buckets of capMB MiB (at least one tensor each).
func NewBuckets(comm Communicator, capMB float64) *Buckets {
	return &Buckets{comm: comm, capBytes: max(int(capMB*(1<<20)), 1)}
}

// Ready adds the gradients of the trainable parameters of ps to the bucket and starts the bucket
// once it is full.
func (g *Buckets) Ready(ps []*nn.Param) {
	for _, p := range ps {
		if p.Trainable && p.Grad != nil {
			g.add(p.Grad)
		}
	}
	limit := g.capBytes
	if !g.started {
		limit = min(limit, firstBucketBytes)
	}
	if g.bytes >= limit {
		g.start()
	}
}

func (g *Buckets) add(t ops.Tensor) {
	g.bucket = append(g.bucket, t)
	g.bytes += t.Shape().Numel() * t.DType().Size()
}

func (g *Buckets) start() {
	if len(g.bucket) == 0 {
		return
	}
	if err := g.comm.StartAllReduce(g.bucket, true); err != nil && g.err == nil {
		g.err = err
	}
	g.started = true
	g.bucket, g.bytes = nil, 0 // the communicator holds the slice until Wait
}

// Finish starts the last bucket, with extra (float32 tensors averaged along with the gradients:
// a flag every rank should learn of), and waits until every bucket of the pass is averaged.
func (g *Buckets) Finish(extra ...ops.Tensor) error {
	for _, t := range extra {
		g.add(t)
	}
	g.start()
	err := g.comm.Wait()
	if g.err != nil {
		err = g.err
	}
	g.err, g.started = nil, false
	if err != nil {
		return fmt.Errorf("averaging the gradients over %d ranks: %w", g.comm.Size(), err)
	}
	return nil
}
