package nn

import "github.com/resnext/resnext/ops"

// SoftmaxCrossEntropy is the classification loss: the softmax cross-entropy of logits [N, C]
// against Int32 labels [N], averaged over the batch, with label smoothing eps (the target is
// (1-eps)*onehot + eps/C, as in MindSpore and PyTorch).
type SoftmaxCrossEntropy struct {
	// Smoothing is the label smoothing eps in [0, 1]: 0.1 in MindCV's ResNeXt recipe.
	Smoothing float64

	b                      ops.Backend
	labels                 ops.Tensor
	logProb, loss, dlogits ops.Tensor
}

// NewSoftmaxCrossEntropy returns the loss with the given label smoothing.
func NewSoftmaxCrossEntropy(b ops.Backend, smoothing float64) *SoftmaxCrossEntropy {
	if !(smoothing >= 0 && smoothing <= 1) {
		misuse("NewSoftmaxCrossEntropy", "label smoothing %v is not in [0, 1]", smoothing)
	}
	return &SoftmaxCrossEntropy{Smoothing: smoothing, b: b}
}

// Forward returns the mean loss as a float32 scalar tensor (shape []), and keeps the
// log-probabilities and the labels for Backward: labels must stay unchanged until then.
func (l *SoftmaxCrossEntropy) Forward(logits, labels ops.Tensor) ops.Tensor {
	if logits == nil || labels == nil {
		misuse("SoftmaxCrossEntropy", "nil logits or labels")
	}
	s := logits.Shape()
	if len(s) != 2 || !labels.Shape().Equal(ops.Shape{s[0]}) || labels.DType() != ops.Int32 {
		misuse("SoftmaxCrossEntropy", "logits %v and labels %v %v: want [N, C] and [N] int32",
			s, labels.Shape(), labels.DType())
	}
	logProb := buffer(l.b, &l.logProb, ops.Float32, s)
	loss := buffer(l.b, &l.loss, ops.Float32, ops.Shape{})
	l.b.CrossEntropy(logits, labels, logProb, loss, l.Smoothing)
	l.labels = labels
	return loss
}

// Backward returns the gradient of scale * loss with respect to the logits of the last Forward
// (scale is the loss scale under mixed precision, else 1): float32 [N, C], like the logits under
// mixed precision, which are cast to float32 before the loss.
func (l *SoftmaxCrossEntropy) Backward(scale float64) ops.Tensor {
	if l.logProb == nil {
		misuse("SoftmaxCrossEntropy", "Backward before Forward")
	}
	dlogits := buffer(l.b, &l.dlogits, ops.Float32, l.logProb.Shape())
	l.b.CrossEntropyBackward(l.logProb, l.labels, dlogits, l.Smoothing, scale)
	return dlogits
}

// Free releases the buffers.
func (l *SoftmaxCrossEntropy) Free() {
	freeAll(l.b, &l.logProb, &l.loss, &l.dlogits)
	l.labels = nil
}
