package train

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/resnext/resnext/data"
	"github.com/resnext/resnext/dist"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// EvalResult is what an evaluation pass measured.
type EvalResult struct {
	// Top1 and Top5 are the fractions of images whose label is the highest-scoring class, or among
	// the five highest (all classes when there are fewer than five).
	Top1 float64 `json:"top1"`
	Top5 float64 `json:"top5"`
	// Loss is the mean cross-entropy (without label smoothing) over the images.
	Loss float64 `json:"loss"`
	// Images is how many images were evaluated.
	Images int `json:"images"`
	// Seconds is the wall time of the pass.
	Seconds float64 `json:"-"`
}

// Evaluate runs net in evaluation mode (moving batch-norm statistics) over one epoch of the loader
// and returns top-1, top-5 and the mean loss. The network is put back into training mode after.
// The loader should not shuffle, drop or pad: every image is counted once.
func Evaluate(ctx context.Context, b ops.Backend, net nn.Layer, ds data.Dataset, loader *data.Loader) (EvalResult, error) {
	return evaluate(ctx, b, net, ds, loader, nil)
}

// evaluate is Evaluate over the ranks of comm (nil: this process alone), each with its own shard of
// the set in loader: the counts and the loss are summed over the ranks, so every rank returns the
// result of the whole set.
func evaluate(ctx context.Context, b ops.Backend, net nn.Layer, ds data.Dataset, loader *data.Loader, comm dist.Communicator) (EvalResult, error) {
	net.SetTraining(false)
	defer net.SetTraining(true)
	start := time.Now()
	loss := nn.NewSoftmaxCrossEntropy(b, 0)
	defer loss.Free()
	in := newInput(b, ds)
	defer in.free()
	it := loader.Epoch(0, 0)
	defer it.Close()
	var res EvalResult
	var lossSum float64
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		batch, ok := it.Next()
		if !ok {
			if err := it.Err(); err != nil {
				return res, err
			}
			break
		}
		x, labels := in.load(batch, loader)
		logits := net.Forward(x)
		l := loss.Forward(logits, labels)
		scores, err := ops.ToFloat32(b, logits)
		if err != nil {
			return res, err
		}
		lv, err := ops.ToFloat32(b, l)
		if err != nil {
			return res, err
		}
		n := len(in.hostLabels)
		classes := len(scores) / n
		for i := range n {
			t1, t5 := rank(scores[i*classes:(i+1)*classes], int(in.hostLabels[i]))
			if t1 {
				res.Top1++
			}
			if t5 {
				res.Top5++
			}
		}
		lossSum += float64(lv[0]) * float64(n)
		res.Images += n
	}
	if comm != nil {
		sums := []float32{float32(res.Top1), float32(res.Top5), float32(lossSum), float32(res.Images)}
		t := ops.FromFloat32(b, ops.Float32, ops.Shape{len(sums)}, sums)
		err := comm.AllReduce(t, false)
		if err == nil {
			sums, err = ops.ToFloat32(b, t)
		}
		b.Free(t)
		if err != nil {
			return res, fmt.Errorf("evaluation: rank %d: summing the counts of %d ranks: %w", comm.Rank(), comm.Size(), err)
		}
		res.Top1, res.Top5, lossSum, res.Images = float64(sums[0]), float64(sums[1]), float64(sums[2]), int(sums[3])
	}
	if res.Images == 0 {
		return res, fmt.Errorf("evaluation: the validation set gave no images")
	}
	res.Top1 /= float64(res.Images)
	res.Top5 /= float64(res.Images)
	res.Loss = lossSum / float64(res.Images)
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// rank reports whether label is the top class of scores and whether it is among the top five.
// A NaN score never counts as a hit; ties go against the label (a class scoring the same as the
// label and listed before it ranks higher), as a stable sort by descending score would.
func rank(scores []float32, label int) (top1, top5 bool) {
	if label < 0 || label >= len(scores) {
		return false, false
	}
	s := scores[label]
	if math.IsNaN(float64(s)) {
		return false, false
	}
	higher := 0
	for j, v := range scores {
		if v > s || (v == s && j < label) {
			higher++
		}
	}
	return higher == 0, higher < 5
}

// input holds the device tensors a batch is written into, reallocated only when the batch shape
// changes (the last, partial batch of an evaluation).
type input struct {
	b          ops.Backend
	c, h, w    int
	x, labels  ops.Tensor
	hostLabels []int32
}

func newInput(b ops.Backend, ds data.Dataset) *input {
	c, h, w := ds.Shape()
	return &input{b: b, c: c, h: h, w: w}
}

// load writes the batch into the device tensors and hands its host buffers back to the loader.
func (in *input) load(batch *data.Batch, loader *data.Loader) (x, labels ops.Tensor) {
	n := batch.N
	shape := ops.Shape{n, in.c, in.h, in.w}
	if in.x == nil || !in.x.Shape().Equal(shape) {
		in.free()
		in.x = in.b.Alloc(ops.Float32, shape)
		in.labels = in.b.Alloc(ops.Int32, ops.Shape{n})
	}
	in.b.Write(in.x, ops.Bytes(batch.X[:shape.Numel()]))
	in.hostLabels = append(in.hostLabels[:0], batch.Labels[:n]...)
	in.b.Write(in.labels, ops.Bytes(in.hostLabels))
	loader.Release(batch)
	return in.x, in.labels
}

func (in *input) free() {
	if in.x != nil {
		in.b.Free(in.x)
		in.b.Free(in.labels)
		in.x, in.labels = nil, nil
	}
}
