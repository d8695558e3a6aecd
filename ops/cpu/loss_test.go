package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/resnext/resnext/ops"
)

// ceRef is a float64 reference for the smoothed softmax cross-entropy of logits [n, c].
type ceRef struct {
	n, c   int
	labels []int32
	eps    float64
}

// target is the smoothed target probability of class j for row i.
func (r ceRef) target(i, j int) float64 {
	t := r.eps / float64(r.c)
	if int(r.labels[i]) == j {
		t += 1 - r.eps
	}
	return t
}

// forward returns log-softmax of every row and the mean loss.
func (r ceRef) forward(logits []float64) (logProb []float64, loss float64) {
	logProb = make([]float64, len(logits))
	for i := range r.n {
		row := logits[i*r.c : (i+1)*r.c]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, v)
		}
		s := 0.0
		for _, v := range row {
			s += math.Exp(v - m)
		}
		for j, v := range row {
			logProb[i*r.c+j] = v - m - math.Log(s)
			loss -= r.target(i, j) * logProb[i*r.c+j] / float64(r.n)
		}
	}
	return logProb, loss
}

// backward is scale*(softmax - target)/n.
func (r ceRef) backward(logProb []float64, scale float64) []float64 {
	d := make([]float64, len(logProb))
	for i := range r.n {
		for j := range r.c {
			d[i*r.c+j] = scale * (math.Exp(logProb[i*r.c+j]) - r.target(i, j)) / float64(r.n)
		}
	}
	return d
}

func (k *kit) labels(n, c int) []int32 {
	l := make([]int32, n)
	for i := range l {
		l[i] = int32(k.rng.IntN(c))
	}
	return l
}

func TestCrossEntropy(t *testing.T) {
	k := newKit(t)
	for _, shape := range []ops.Shape{{1, 1}, {1, 5}, {7, 10}, {3, 2}, {64, 1000}} {
		for _, eps := range []float64{0, 0.1, 1} {
			for _, scale := range []float64{1, 1024} {
				t.Run(fmt.Sprintf("%v eps %v scale %v", shape, eps, scale), func(t *testing.T) {
					k.t = t
					n, c := shape[0], shape[1]
					ld, labd := k.randn(n*c, 3), k.labels(n, c)
					r := ceRef{n: n, c: c, labels: labd, eps: eps}
					wantLP, wantLoss := r.forward(widen(ld))

					logits, labels := k.tensor(shape, ld), ops.FromInt32(k.b, ops.Shape{n}, labd)
					logProb, loss, dl := k.out(shape...), k.out(), k.out(shape...)
					k.b.CrossEntropy(logits, labels, logProb, loss, eps)
					k.close("logProb", k.read(logProb), wantLP, 1e-6)
					k.close("loss", k.read(loss), []float64{wantLoss}, 1e-6)

					k.b.CrossEntropyBackward(logProb, labels, dl, eps, scale)
					k.closeScaled("dlogits", k.read(dl), r.backward(wantLP, scale), 1e-6, scale/float64(n))
				})
			}
		}
	}
}

// TestCrossEntropyStable feeds logits far outside exp's range: the results must stay finite.
func TestCrossEntropyStable(t *testing.T) {
	k := newKit(t)
	ld := []float32{1000, -1000, 0, 999, -3e4, -3e4 + 1, -3e4 - 5, -3e4}
	labd := []int32{1, 2}
	r := ceRef{n: 2, c: 4, labels: labd, eps: 0.1}
	wantLP, wantLoss := r.forward(widen(ld))
	logProb, loss := k.out(2, 4), k.out()
	labels := ops.FromInt32(k.b, ops.Shape{2}, labd)
	k.b.CrossEntropy(k.tensor(ops.Shape{2, 4}, ld), labels, logProb, loss, 0.1)
	k.close("logProb", k.read(logProb), wantLP, 1e-6)
	k.close("loss", k.read(loss), []float64{wantLoss}, 1e-6)
	dl := k.out(2, 4)
	k.b.CrossEntropyBackward(logProb, labels, dl, 0.1, 1)
	k.close("dlogits", k.read(dl), r.backward(wantLP, 1), 1e-6)
}

// TestCrossEntropyReference checks the reference gradient against central finite differences of
// the reference loss.
func TestCrossEntropyReference(t *testing.T) {
	k := newKit(t)
	r := ceRef{n: 3, c: 5, labels: k.labels(3, 5), eps: 0.1}
	x := widen(k.randn(15, 2))
	lp, _ := r.forward(x)
	grad := r.backward(lp, 1)
	for i := range x {
		const h = 1e-6
		old := x[i]
		x[i] = old + h
		_, up := r.forward(x)
		x[i] = old - h
		_, down := r.forward(x)
		x[i] = old
		if n := (up - down) / (2 * h); math.Abs(n-grad[i]) > 1e-7 {
			t.Errorf("dlogits[%d]: analytic %v, numeric %v", i, grad[i], n)
		}
	}
}

func TestCrossEntropyMisuse(t *testing.T) {
	k := newKit(t)
	logits, logProb, loss := k.out(3, 5), k.out(3, 5), k.out()
	for _, bad := range []int32{5, -1} {
		labels := ops.FromInt32(k.b, ops.Shape{3}, []int32{0, 4, bad})
		k.panics(func() { k.b.CrossEntropy(logits, labels, logProb, loss, 0) }, "ops.CrossEntropy", "labels[2]", fmt.Sprint(bad))
		k.panics(func() { k.b.CrossEntropyBackward(logProb, labels, logits, 0, 1) }, "ops.CrossEntropyBackward", "labels[2]", fmt.Sprint(bad))
	}
	labels := ops.FromInt32(k.b, ops.Shape{3}, []int32{0, 1, 2})
	k.panics(func() { k.b.CrossEntropy(logits, labels, logProb, loss, 1.5) }, "ops.CrossEntropy", "smoothing")
	k.panics(func() { k.b.CrossEntropy(logits, labels, logProb, k.out(1), 0) }, "ops.CrossEntropy", "loss")
	k.panics(func() { k.b.CrossEntropy(logits, k.out(3), logProb, loss, 0) }, "ops.CrossEntropy", "labels", "int32")
}
