package opstest

import (
	"fmt"
	"testing"

	"github.com/resnext/resnext/ops"
)

// ceCase is one cross-entropy input: logits [n, c], normal with standard deviation spread, or
// the given logits and labels.
type ceCase struct {
	name   string
	n, c   int
	spread float64
	logits []float32
	labels []int32
}

var ceCases = []ceCase{
	{"5x10", 5, 10, 1, nil, nil},
	{"batch1_1000_classes", 1, 1000, 2, nil, nil},
	{"two_classes", 6, 2, 1, nil, nil},
	{"one_class", 3, 1, 1, nil, nil},
	{"large_logits", 4, 7, 100, nil, nil},
	{"64x1000", 64, 1000, 3, nil, nil},
	// Logits far outside exp's range in float32 (either way): the results stay finite.
	{"extreme_logits_far_apart", 1, 4, 0, []float32{1000, -1000, 0, 999}, []int32{1}},
	{"extreme_logits_all_very_negative", 1, 4, 0, []float32{-3e4, -3e4 + 1, -3e4 - 5, -3e4}, []int32{2}},
}

var ceSmoothing = []float64{0, 0.1, 1}

func (e *env) ceInputs(c ceCase) (logits []float32, labels []int32) {
	if c.logits != nil {
		return c.logits, c.labels
	}
	return e.randnScaled(c.n*c.c, 0, c.spread), e.randLabels(c.n, c.c)
}

func testCrossEntropy(t *testing.T, b ops.Backend) {
	for _, c := range ceCases {
		for _, eps := range ceSmoothing {
			run(t, b, fmt.Sprintf("%s/smoothing_%g", c.name, eps), func(e *env) {
				logits, labels := e.ceInputs(c)
				s := ops.Shape{c.n, c.c}
				L, LP, loss := e.tensor(s, logits), e.out(s), e.out(ops.Shape{})
				b.CrossEntropy(L, e.labels(labels), LP, loss, eps)
				logProb, want := refCrossEntropy(f64(logits), labels, c.n, c.c, eps)
				e.near("logProb", e.read(LP), logProb, tolReduce)
				e.near("loss", e.read(loss), []float64{want}, tolReduce)
				e.unchanged("logits", L, logits)
				e.sync()
			})
		}
	}
}

func testCrossEntropyBackward(t *testing.T, b ops.Backend) {
	for _, c := range ceCases {
		for _, eps := range ceSmoothing {
			for _, scale := range []float64{1, 1024} {
				run(t, b, fmt.Sprintf("%s/smoothing_%g/scale_%g", c.name, eps, scale), func(e *env) {
					logits, labels := e.ceInputs(c)
					s := ops.Shape{c.n, c.c}
					logProb, _ := refCrossEntropy(f64(logits), labels, c.n, c.c, eps)
					lp := f32(logProb)
					LP, D := e.tensor(s, lp), e.out(s)
					b.CrossEntropyBackward(LP, e.labels(labels), D, eps, scale)
					e.near("dlogits", e.read(D), refCrossEntropyBackward(f64(lp), labels, c.n, c.c, eps, scale), tolReduce)
					e.unchanged("logProb", LP, lp)
					e.sync()
				})
			}
		}
	}
	// Finite differences of the backend's loss through its own forward and backward.
	for _, c := range ceCases[:3] {
		for _, eps := range ceSmoothing {
			run(t, b, fmt.Sprintf("%s/smoothing_%g/finite_difference", c.name, eps), func(e *env) {
				logits, labels := e.ceInputs(c)
				s := ops.Shape{c.n, c.c}
				lab := e.labels(labels)
				forward := func(x []float32) (logProb, loss ops.Tensor) {
					X := e.tensor(s, x)
					logProb, loss = e.out(s), e.out(ops.Shape{})
					b.CrossEntropy(X, lab, logProb, loss, eps)
					e.free(X)
					return logProb, loss
				}
				LP, _ := forward(logits)
				D := e.out(s)
				b.CrossEntropyBackward(LP, lab, D, eps, 1)
				e.directional([][]float32{logits}, [][]float32{e.read(D)}, 1e-2*c.spread, func(in [][]float32) float64 {
					LP, loss := forward(in[0])
					defer e.free(LP, loss)
					return float64(e.read(loss)[0])
				})
			})
		}
	}
}
