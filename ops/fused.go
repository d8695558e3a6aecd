package ops

// BatchNormReLU is what a backend implements to run batch norm and a ReLU of its output as one
// kernel: the ReLU then works on each channel while it is in cache instead of in a pass of its
// own over the whole tensor, forward and backward. Callers use the functions BatchNormReLUTrain,
// BatchNormReLUInfer and BatchNormReLUBackward, which take the fused kernel when the backend has
// it and batch norm and ReLU one after the other otherwise; both give the same results.
type BatchNormReLU interface {
	// BatchNormReLUTrain is BatchNormTrain and then ReLU(y, y).
	BatchNormReLUTrain(x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd Tensor, momentum, eps float64)
	// BatchNormReLUInfer is BatchNormInfer and then ReLU(y, y).
	BatchNormReLUInfer(x, gamma, beta, mean, variance, y Tensor, eps float64)
	// BatchNormReLUBackward is the gradient of BatchNormReLUTrain, from its output y:
	// ReLUBackward(dy, y, dy) and then BatchNormBackward(dy, x, ...). It overwrites dy with the
	// gradient through the ReLU. dgamma and dbeta may be nil.
	BatchNormReLUBackward(dy, x, y, gamma, saveMean, saveInvStd, dx, dgamma, dbeta Tensor)
}

// BatchNormReLUTrain normalises x with its batch statistics and applies a ReLU to the result, as
// BatchNormTrain followed by ReLU(y, y) do, in one kernel where b has it (BatchNormReLU).
func BatchNormReLUTrain(b Backend, x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd Tensor, momentum, eps float64) {
	if f, ok := b.(BatchNormReLU); ok {
		f.BatchNormReLUTrain(x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd, momentum, eps)
		return
	}
	b.BatchNormTrain(x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd, momentum, eps)
	b.ReLU(y, y)
}

// BatchNormReLUInfer is BatchNormInfer followed by ReLU(y, y), in one kernel where b has it.
func BatchNormReLUInfer(b Backend, x, gamma, beta, mean, variance, y Tensor, eps float64) {
	if f, ok := b.(BatchNormReLU); ok {
		f.BatchNormReLUInfer(x, gamma, beta, mean, variance, y, eps)
		return
	}
	b.BatchNormInfer(x, gamma, beta, mean, variance, y, eps)
	b.ReLU(y, y)
}

// BatchNormReLUBackward is the gradient of BatchNormReLUTrain from its output y, in one kernel
// where b has it: dy, the gradient of the ReLU's output, is overwritten with the gradient through
// the ReLU, and dx, dgamma and dbeta (either of the last two may be nil) are batch norm's.
func BatchNormReLUBackward(b Backend, dy, x, y, gamma, saveMean, saveInvStd, dx, dgamma, dbeta Tensor) {
	if f, ok := b.(BatchNormReLU); ok {
		f.BatchNormReLUBackward(dy, x, y, gamma, saveMean, saveInvStd, dx, dgamma, dbeta)
		return
	}
	CheckBatchNormReLUBackward(dy, x, y, gamma, saveMean, saveInvStd, dx, dgamma, dbeta)
	b.ReLUBackward(dy, y, dy)
	b.BatchNormBackward(dy, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta)
}
