package cpu

import (
	"math"

	"github.com/resnext/resnext/ops"
)

// CrossEntropy computes log-softmax of each row of logits into logProb (stably: the row maximum is
// subtracted before exponentiating, and sums run in float64) and the batch mean of
// -sum_c target_c*logProb_c into loss, with target = (1-eps)*onehot(label) + eps/C.
func (b *Backend) CrossEntropy(logits, labels, logProb, loss ops.Tensor, smoothing float64) {
	const op = "CrossEntropy"
	n, c := ops.CheckCrossEntropy(logits, labels, logProb, loss, smoothing)
	xs, lp, out := f32(op, logits), f32(op, logProb), f32(op, loss)
	ls := checkLabels(op, labels, c)
	rowLoss := b.scratch(n)
	defer b.release(rowLoss)
	b.parallelFor(n, 16*c, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			rowLoss[i] = logSoftmaxRow(xs[i*c:(i+1)*c], lp[i*c:(i+1)*c], int(ls[i]), smoothing)
		}
	})
	out[0] = float32(sum64(rowLoss) / float64(n))
}

// logSoftmaxRow writes the log-softmax of x into lp and returns the row's smoothed cross-entropy
// against label.
func logSoftmaxRow(x, lp []float32, label int, smoothing float64) float32 {
	m := x[0]
	for _, v := range x[1:] {
		if v > m {
			m = v
		}
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - float64(m))
	}
	lse := float64(m) + math.Log(s)
	var all float64
	for j, v := range x {
		l := float64(v) - lse
		lp[j] = float32(l)
		all += l
	}
	mine := float64(x[label]) - lse
	return float32(-((1-smoothing)*mine + smoothing/float64(len(x))*all))
}

// CrossEntropyBackward computes dlogits = scale*(softmax - target)/N from the saved logProb.
func (b *Backend) CrossEntropyBackward(logProb, labels, dlogits ops.Tensor, smoothing, scale float64) {
	const op = "CrossEntropyBackward"
	n, c := ops.CheckCrossEntropyBackward(logProb, labels, dlogits, smoothing)
	lp, dl := f32(op, logProb), f32(op, dlogits)
	ls := checkLabels(op, labels, c)
	k := scale / float64(n)
	off := smoothing / float64(c)
	b.parallelFor(n, 16*c, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row, drow := lp[i*c:(i+1)*c], dl[i*c:(i+1)*c]
			for j, l := range row {
				drow[j] = float32(k * (math.Exp(float64(l)) - off))
			}
			label := ls[i]
			drow[label] = float32(k * (math.Exp(float64(row[label])) - off - (1 - smoothing)))
		}
	})
}

// checkLabels returns the labels, panicking when one is outside [0, c).
func checkLabels(op string, labels ops.Tensor, c int) []int32 {
	ls := get(op, labels).i32()
	for i, l := range ls {
		if l < 0 || int(l) >= c {
			ops.Misuse(op, "labels[%d] = %d is out of range [0, %d)", i, l, c)
		}
	}
	return ls
}
