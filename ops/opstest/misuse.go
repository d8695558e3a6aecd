package opstest

import (
	"testing"

	"github.com/resnext/resnext/ops"
)

// misuseCase calls a kernel wrongly; it must panic at once with a message naming ops.<op>.
type misuseCase struct {
	op, name string
	call     func(e *env)
}

// f is shorthand for an uninitialised float32 tensor.
func (e *env) f(shape ...int) ops.Tensor { return e.alloc(ops.Float32, shape) }

var (
	s3 = ops.Conv(1, 0, 1)
	p3 = ops.Pool(3, 2, 1)
)

var misuseCases = []misuseCase{
	{"Conv2d", "wrong_output_shape", func(e *env) { e.b.Conv2d(e.f(1, 4, 5, 5), e.f(4, 4, 3, 3), e.f(1, 4, 5, 5), s3) }},
	{"Conv2d", "weight_channels_do_not_match_groups", func(e *env) { e.b.Conv2d(e.f(1, 4, 5, 5), e.f(4, 2, 3, 3), e.f(1, 4, 3, 3), s3) }},
	{"Conv2d", "channels_not_divisible_by_groups", func(e *env) {
		e.b.Conv2d(e.f(1, 6, 5, 5), e.f(6, 2, 3, 3), e.f(1, 6, 3, 3), ops.Conv(1, 0, 4))
	}},
	{"Conv2d", "output_dtype", func(e *env) {
		e.b.Conv2d(e.f(1, 4, 5, 5), e.f(4, 4, 3, 3), e.alloc(ops.Float16, ops.Shape{1, 4, 3, 3}), s3)
	}},
	{"Conv2d", "int_input", func(e *env) {
		e.b.Conv2d(e.alloc(ops.Int32, ops.Shape{1, 4, 5, 5}), e.f(4, 4, 3, 3), e.f(1, 4, 3, 3), s3)
	}},
	{"Conv2d", "input_not_4d", func(e *env) { e.b.Conv2d(e.f(4, 5, 5), e.f(4, 4, 3, 3), e.f(1, 4, 3, 3), s3) }},
	{"Conv2d", "empty_output", func(e *env) { e.b.Conv2d(e.f(1, 4, 2, 2), e.f(4, 4, 3, 3), e.f(1, 4, 1, 1), s3) }},
	{"Conv2dBackward", "wrong_dw_shape", func(e *env) {
		e.b.Conv2dBackward(e.f(1, 4, 3, 3), e.f(1, 4, 5, 5), e.f(4, 4, 3, 3), e.f(1, 4, 5, 5), e.f(4, 4, 1, 1), s3)
	}},
	{"Conv2dBackward", "wrong_dy_shape", func(e *env) {
		e.b.Conv2dBackward(e.f(1, 4, 5, 5), e.f(1, 4, 5, 5), e.f(4, 4, 3, 3), e.f(1, 4, 5, 5), nil, s3)
	}},
	{"Conv2dBackward", "dx_dtype", func(e *env) {
		e.b.Conv2dBackward(e.f(1, 4, 3, 3), e.f(1, 4, 5, 5), e.f(4, 4, 3, 3), e.alloc(ops.BFloat16, ops.Shape{1, 4, 5, 5}), nil, s3)
	}},
	{"Conv2dBackward", "groups_mismatch", func(e *env) {
		e.b.Conv2dBackward(e.f(1, 4, 3, 3), e.f(1, 4, 5, 5), e.f(4, 4, 3, 3), e.f(1, 4, 5, 5), nil, ops.Conv(1, 0, 2))
	}},
	{"BatchNormTrain", "wrong_gamma_shape", func(e *env) {
		x := e.f(2, 3, 4, 4)
		e.b.BatchNormTrain(x, e.f(4), e.f(3), e.f(3), e.f(3), e.f(2, 3, 4, 4), e.f(3), e.f(3), 0.1, 1e-5)
	}},
	{"BatchNormTrain", "one_value_per_channel", func(e *env) {
		e.b.BatchNormTrain(e.f(1, 3, 1, 1), e.f(3), e.f(3), e.f(3), e.f(3), e.f(1, 3, 1, 1), e.f(3), e.f(3), 0.1, 1e-5)
	}},
	{"BatchNormTrain", "float16_statistics", func(e *env) {
		h := e.alloc(ops.Float16, ops.Shape{3})
		e.b.BatchNormTrain(e.f(2, 3, 4, 4), e.f(3), e.f(3), h, e.f(3), e.f(2, 3, 4, 4), e.f(3), e.f(3), 0.1, 1e-5)
	}},
	{"BatchNormTrain", "input_3d", func(e *env) {
		e.b.BatchNormTrain(e.f(2, 3, 4), e.f(3), e.f(3), e.f(3), e.f(3), e.f(2, 3, 4), e.f(3), e.f(3), 0.1, 1e-5)
	}},
	{"BatchNormTrain", "momentum_above_1", func(e *env) {
		e.b.BatchNormTrain(e.f(2, 3), e.f(3), e.f(3), e.f(3), e.f(3), e.f(2, 3), e.f(3), e.f(3), 1.5, 1e-5)
	}},
	{"BatchNormInfer", "wrong_output_shape", func(e *env) {
		e.b.BatchNormInfer(e.f(2, 3, 4, 4), e.f(3), e.f(3), e.f(3), e.f(3), e.f(2, 3, 4, 5), 1e-5)
	}},
	{"BatchNormInfer", "zero_eps", func(e *env) {
		e.b.BatchNormInfer(e.f(2, 3), e.f(3), e.f(3), e.f(3), e.f(3), e.f(2, 3), 0)
	}},
	{"BatchNormBackward", "wrong_dgamma_shape", func(e *env) {
		e.b.BatchNormBackward(e.f(2, 3, 4, 4), e.f(2, 3, 4, 4), e.f(3), e.f(3), e.f(3), e.f(2, 3, 4, 4), e.f(2), nil)
	}},
	{"BatchNormBackward", "wrong_dy_shape", func(e *env) {
		e.b.BatchNormBackward(e.f(2, 3, 4, 5), e.f(2, 3, 4, 4), e.f(3), e.f(3), e.f(3), e.f(2, 3, 4, 4), nil, nil)
	}},
	{"ReLU", "wrong_output_shape", func(e *env) { e.b.ReLU(e.f(2, 3), e.f(3, 2)) }},
	{"ReLU", "int_input", func(e *env) { e.b.ReLU(e.alloc(ops.Int32, ops.Shape{4}), e.alloc(ops.Int32, ops.Shape{4})) }},
	{"ReLUBackward", "wrong_dx_shape", func(e *env) { e.b.ReLUBackward(e.f(6), e.f(6), e.f(5)) }},
	{"MaxPool2d", "wrong_output_shape", func(e *env) {
		x := ops.Shape{1, 2, 8, 8}
		ms, mt := e.b.MaxPool2dMask(x, p3)
		e.b.MaxPool2d(e.f(x...), e.f(1, 2, 8, 8), e.alloc(mt, ms), p3)
	}},
	{"MaxPool2d", "padding_not_smaller_than_kernel", func(e *env) {
		p := ops.Pool(2, 2, 2)
		e.b.MaxPool2d(e.f(1, 2, 8, 8), e.f(1, 2, 6, 6), e.f(1, 2, 6, 6), p)
	}},
	{"MaxPool2d", "wrong_mask_shape", func(e *env) {
		x := ops.Shape{1, 2, 8, 8}
		ms, mt := e.b.MaxPool2dMask(x, p3)
		e.b.MaxPool2d(e.f(x...), e.f(1, 2, 4, 4), e.alloc(mt, append(ms.Clone(), 2)), p3)
	}},
	{"MaxPool2dBackward", "wrong_dx_shape", func(e *env) {
		x := ops.Shape{1, 2, 8, 8}
		ms, mt := e.b.MaxPool2dMask(x, p3)
		e.b.MaxPool2dBackward(e.f(1, 2, 4, 4), e.alloc(mt, ms), e.f(1, 2, 8, 9), p3)
	}},
	{"GlobalAvgPool", "wrong_output_shape", func(e *env) { e.b.GlobalAvgPool(e.f(2, 3, 4, 4), e.f(2, 3, 1)) }},
	{"GlobalAvgPoolBackward", "wrong_dx_shape", func(e *env) { e.b.GlobalAvgPoolBackward(e.f(2, 3), e.f(2, 4, 4, 4)) }},
	{"MatMul", "inner_dimensions_differ", func(e *env) { e.b.MatMul(e.f(3, 4), e.f(5, 6), e.f(3, 6), false, false) }},
	{"MatMul", "inner_dimensions_differ_transposed", func(e *env) { e.b.MatMul(e.f(3, 4), e.f(4, 6), e.f(4, 6), true, false) }},
	{"MatMul", "wrong_output_shape", func(e *env) { e.b.MatMul(e.f(3, 4), e.f(4, 6), e.f(6, 3), false, false) }},
	{"MatMul", "output_dtype", func(e *env) {
		e.b.MatMul(e.f(3, 4), e.f(4, 6), e.alloc(ops.Float16, ops.Shape{3, 6}), false, false)
	}},
	{"MatMul", "not_a_matrix", func(e *env) { e.b.MatMul(e.f(2, 3, 4), e.f(4, 6), e.f(3, 6), false, false) }},
	{"BiasAdd", "wrong_bias_shape", func(e *env) { e.b.BiasAdd(e.f(2, 3, 4), e.f(4), e.f(2, 3, 4)) }},
	{"BiasAdd", "bias_dtype", func(e *env) { e.b.BiasAdd(e.f(2, 3), e.alloc(ops.Float16, ops.Shape{3}), e.f(2, 3)) }},
	{"BiasGrad", "wrong_db_shape", func(e *env) { e.b.BiasGrad(e.f(2, 3, 4, 4), e.f(2)) }},
	{"CrossEntropy", "float32_labels", func(e *env) {
		e.b.CrossEntropy(e.f(4, 10), e.f(4), e.f(4, 10), e.f(), 0)
	}},
	{"CrossEntropy", "wrong_label_count", func(e *env) {
		e.b.CrossEntropy(e.f(4, 10), e.alloc(ops.Int32, ops.Shape{5}), e.f(4, 10), e.f(), 0)
	}},
	{"CrossEntropy", "loss_not_scalar", func(e *env) {
		e.b.CrossEntropy(e.f(4, 10), e.alloc(ops.Int32, ops.Shape{4}), e.f(4, 10), e.f(1), 0)
	}},
	{"CrossEntropy", "smoothing_above_1", func(e *env) {
		e.b.CrossEntropy(e.f(4, 10), e.alloc(ops.Int32, ops.Shape{4}), e.f(4, 10), e.f(), 1.5)
	}},
	{"CrossEntropyBackward", "int64_labels", func(e *env) {
		e.b.CrossEntropyBackward(e.f(4, 10), e.alloc(ops.Int64, ops.Shape{4}), e.f(4, 10), 0, 1)
	}},
	{"CrossEntropyBackward", "wrong_dlogits_shape", func(e *env) {
		e.b.CrossEntropyBackward(e.f(4, 10), e.alloc(ops.Int32, ops.Shape{4}), e.f(4, 11), 0, 1)
	}},
	{"Add", "shape_mismatch", func(e *env) { e.b.Add(e.f(2, 3), e.f(3, 2), e.f(2, 3), 1) }},
	{"Add", "dtype_mismatch", func(e *env) { e.b.Add(e.f(6), e.alloc(ops.Float16, ops.Shape{6}), e.f(6), 1) }},
	{"Scale", "wrong_output_shape", func(e *env) { e.b.Scale(e.f(6), e.f(7), 2) }},
	{"Scale", "int_input", func(e *env) { e.b.Scale(e.alloc(ops.Int32, ops.Shape{6}), e.alloc(ops.Int32, ops.Shape{6}), 2) }},
	{"SGDMomentum", "wrong_accum_shape", func(e *env) { e.b.SGDMomentum(e.f(4, 4), e.f(4, 4), e.f(16), ops.SGDParams{LR: 0.1}) }},
	{"SGDMomentum", "float16_param", func(e *env) {
		e.b.SGDMomentum(e.alloc(ops.Float16, ops.Shape{4}), e.f(4), e.f(4), ops.SGDParams{LR: 0.1})
	}},
	{"SGDMomentum", "negative_lr", func(e *env) { e.b.SGDMomentum(e.f(4), e.f(4), e.f(4), ops.SGDParams{LR: -0.1}) }},
	{"AllFinite", "float32_out", func(e *env) { e.b.AllFinite([]ops.Tensor{e.f(4)}, e.f()) }},
	{"AllFinite", "int_tensor", func(e *env) {
		e.b.AllFinite([]ops.Tensor{e.f(4), e.alloc(ops.Int32, ops.Shape{4})}, e.alloc(ops.Bool, ops.Shape{}))
	}},
	{"Cast", "shape_mismatch", func(e *env) { e.b.Cast(e.f(2, 3), e.alloc(ops.Float16, ops.Shape{3, 2})) }},
	{"Copy", "shape_mismatch", func(e *env) { e.b.Copy(e.f(2, 3), e.f(6)) }},
	{"Copy", "dtype_mismatch", func(e *env) { e.b.Copy(e.f(6), e.alloc(ops.Int32, ops.Shape{6})) }},
	{"Write", "wrong_byte_count", func(e *env) { e.b.Write(e.f(6), make([]byte, 20)) }},
	{"Read", "wrong_byte_count", func(e *env) { _ = e.b.Read(e.f(6), make([]byte, 28)) }},
}

// testMisuse checks that every misuse panics with the kernel's name, and that the backend still
// works afterwards.
func testMisuse(t *testing.T, b ops.Backend) {
	for _, c := range misuseCases {
		run(t, b, c.op+"/"+c.name, func(e *env) {
			e.panics(c.op, func() { c.call(e) })
			x := e.tensor(ops.Shape{3}, []float32{1, -2, 3})
			y := e.out(ops.Shape{3})
			b.Copy(x, y)
			e.exact("copy after the misuse", e.read(y), []float64{1, -2, 3})
		})
	}
}
