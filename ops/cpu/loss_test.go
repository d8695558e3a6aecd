package cpu

import (
	"fmt"
	"testing"

	"github.com/resnext/resnext/ops"
)

// TestCrossEntropyLabelsOutOfRange checks that a label outside [0, C) panics, naming it: labels
// live in host memory here, so the backend checks their values at once.
func TestCrossEntropyLabelsOutOfRange(t *testing.T) {
	k := newKit(t)
	logits, logProb, loss := k.out(3, 5), k.out(3, 5), k.out()
	for _, bad := range []int32{5, -1} {
		labels := ops.FromInt32(k.b, ops.Shape{3}, []int32{0, 4, bad})
		k.panics(func() { k.b.CrossEntropy(logits, labels, logProb, loss, 0) }, "ops.CrossEntropy", "labels[2]", fmt.Sprint(bad))
		k.panics(func() { k.b.CrossEntropyBackward(logProb, labels, logits, 0, 1) }, "ops.CrossEntropyBackward", "labels[2]", fmt.Sprint(bad))
	}
}
