package cpu

import "github.com/resnext/resnext/ops"

// Placeholders until these kernels land; this file is deleted then.

func (b *Backend) BatchNormTrain(x, gamma, beta, runMean, runVar, y, saveMean, saveInvStd ops.Tensor, momentum, eps float64) {
	panic("todo")
}
func (b *Backend) BatchNormInfer(x, gamma, beta, mean, variance, y ops.Tensor, eps float64) {
	panic("todo")
}
func (b *Backend) BatchNormBackward(dy, x, gamma, saveMean, saveInvStd, dx, dgamma, dbeta ops.Tensor) {
	panic("todo")
}
func (b *Backend) ReLU(x, y ops.Tensor)              { panic("todo") }
func (b *Backend) ReLUBackward(dy, y, dx ops.Tensor) { panic("todo") }
func (b *Backend) MaxPool2dMask(x ops.Shape, p ops.Pool2dParams) (ops.Shape, ops.DType) {
	panic("todo")
}
func (b *Backend) MaxPool2d(x, y, mask ops.Tensor, p ops.Pool2dParams) { panic("todo") }
func (b *Backend) MaxPool2dBackward(dy, mask, dx ops.Tensor, p ops.Pool2dParams) {
	panic("todo")
}
func (b *Backend) GlobalAvgPool(x, y ops.Tensor)           { panic("todo") }
func (b *Backend) GlobalAvgPoolBackward(dy, dx ops.Tensor) { panic("todo") }
func (b *Backend) BiasAdd(x, bias, y ops.Tensor)           { panic("todo") }
func (b *Backend) BiasGrad(dy, db ops.Tensor)              { panic("todo") }
func (b *Backend) CrossEntropy(logits, labels, logProb, loss ops.Tensor, smoothing float64) {
	panic("todo")
}
func (b *Backend) CrossEntropyBackward(logProb, labels, dlogits ops.Tensor, smoothing, scale float64) {
	panic("todo")
}
func (b *Backend) Add(a, bb, y ops.Tensor, alpha float64)                     { panic("todo") }
func (b *Backend) Scale(x, y ops.Tensor, alpha float64)                       { panic("todo") }
func (b *Backend) SGDMomentum(param, grad, accum ops.Tensor, p ops.SGDParams) { panic("todo") }
func (b *Backend) AllFinite(ts []ops.Tensor, out ops.Tensor)                  { panic("todo") }
func (b *Backend) Cast(x, y ops.Tensor)                                       { panic("todo") }
