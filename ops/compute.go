package ops

// Float16Compute is what a backend implements when its kernels compute in float16: convolution,
// ReLU, pooling, MatMul, BiasAdd, BiasGrad and Add on float16 tensors, and batch norm on a float16
// input and output with float32 statistics and affine parameters (amp_level O2). A backend without
// it computes in float32 only, float16 being a storage type there (converted by Cast), as on the
// CPU backend. Callers ask with CanCompute.
type Float16Compute interface {
	// ComputesFloat16 reports whether the kernels take float16 tensors (a wrapper around another
	// backend forwards the answer).
	ComputesFloat16() bool
}

// CanCompute reports whether b's kernels compute in dt: Float32 on every backend, Float16 on a
// backend that implements Float16Compute and says so, no other type.
func CanCompute(b Backend, dt DType) bool {
	switch dt {
	case Float32:
		return true
	case Float16:
		f, ok := b.(Float16Compute)
		return ok && f.ComputesFloat16()
	}
	return false
}

// FiniteMaxPool is what a backend implements when its MaxPool2d and MaxPool2dBackward do not take
// NaN or -Inf in x: CANN's aclnnMaxPool2dWithMask documents such input as not supported, so the result
// is not defined there (+Inf is fine). Callers ask with MaxPoolTakesNonFinite.
type FiniteMaxPool interface {
	// MaxPoolNeedsFinite reports whether x must hold no NaN and no -Inf.
	MaxPoolNeedsFinite() bool
}

// MaxPoolTakesNonFinite reports whether b's max pool gives the interface's results for x holding
// NaN or -Inf: true unless b implements FiniteMaxPool and says otherwise.
func MaxPoolTakesNonFinite(b Backend) bool {
	f, ok := b.(FiniteMaxPool)
	return !ok || !f.MaxPoolNeedsFinite()
}
