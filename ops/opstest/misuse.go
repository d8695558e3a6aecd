package opstest

import (
	"testing"

	"github.com/resnext/resnext/ops"
)

// misuseCase calls a kernel wrongly; it must panic at once with a message naming ops.<op> and
// mentioning each of mentions (the shapes, dtypes or values at fault, and the argument where the
// message can name it).
type misuseCase struct {
	op, name string
	mentions []string
	call     func(e *env)
}

// f is shorthand for an uninitialised float32 tensor.
func (e *env) f(shape ...int) ops.Tensor { return e.alloc(ops.Float32, shape) }

var (
	s3 = ops.Conv(1, 0, 1)
	p3 = ops.Pool(3, 2, 1)
)

var misuseCases = []misuseCase{
	{"Conv2d", "wrong_output_shape", []string{"[1, 4, 5, 5]", "[1, 4, 3, 3]"}, func(e *env) {
		e.b.Conv2d(e.f(1, 4, 5, 5), e.f(4, 4, 3, 3), e.f(1, 4, 5, 5), s3)
	}},
	{"Conv2d", "weight_channels_do_not_match_groups", []string{"[1, 4, 5, 5]", "[4, 2, 3, 3]"}, func(e *env) {
		e.b.Conv2d(e.f(1, 4, 5, 5), e.f(4, 2, 3, 3), e.f(1, 4, 3, 3), s3)
	}},
	{"Conv2d", "channels_not_divisible_by_groups", []string{"[1, 6, 5, 5]", "[6, 2, 3, 3]"}, func(e *env) {
		e.b.Conv2d(e.f(1, 6, 5, 5), e.f(6, 2, 3, 3), e.f(1, 6, 3, 3), ops.Conv(1, 0, 4))
	}},
	{"Conv2d", "output_dtype", []string{"float16"}, func(e *env) {
		e.b.Conv2d(e.f(1, 4, 5, 5), e.f(4, 4, 3, 3), e.alloc(ops.Float16, ops.Shape{1, 4, 3, 3}), s3)
	}},
	{"Conv2d", "int_input", []string{"int32"}, func(e *env) {
		e.b.Conv2d(e.alloc(ops.Int32, ops.Shape{1, 4, 5, 5}), e.f(4, 4, 3, 3), e.f(1, 4, 3, 3), s3)
	}},
	{"Conv2d", "input_not_4d", []string{"[4, 5, 5]"}, func(e *env) {
		e.b.Conv2d(e.f(4, 5, 5), e.f(4, 4, 3, 3), e.f(1, 4, 3, 3), s3)
	}},
	{"Conv2d", "empty_output", []string{"[1, 4, 2, 2]", "[4, 4, 3, 3]"}, func(e *env) {
		e.b.Conv2d(e.f(1, 4, 2, 2), e.f(4, 4, 3, 3), e.f(1, 4, 1, 1), s3)
	}},
	{"Conv2dBackward", "wrong_dw_shape", []string{"dw", "[4, 4, 1, 1]", "[4, 4, 3, 3]"}, func(e *env) {
		e.b.Conv2dBackward(e.f(1, 4, 3, 3), e.f(1, 4, 5, 5), e.f(4, 4, 3, 3), e.f(1, 4, 5, 5), e.f(4, 4, 1, 1), s3)
	}},
	{"Conv2dBackward", "wrong_dy_shape", []string{"dy", "[1, 4, 5, 5]", "[1, 4, 3, 3]"}, func(e *env) {
		e.b.Conv2dBackward(e.f(1, 4, 5, 5), e.f(1, 4, 5, 5), e.f(4, 4, 3, 3), e.f(1, 4, 5, 5), nil, s3)
	}},
	{"Conv2dBackward", "dx_dtype", []string{"dx", "bfloat16"}, func(e *env) {
		e.b.Conv2dBackward(e.f(1, 4, 3, 3), e.f(1, 4, 5, 5), e.f(4, 4, 3, 3), e.alloc(ops.BFloat16, ops.Shape{1, 4, 5, 5}), nil, s3)
	}},
	{"Conv2dBackward", "groups_mismatch", []string{"[1, 4, 5, 5]", "[4, 4, 3, 3]"}, func(e *env) {
		e.b.Conv2dBackward(e.f(1, 4, 3, 3), e.f(1, 4, 5, 5), e.f(4, 4, 3, 3), e.f(1, 4, 5, 5), nil, ops.Conv(1, 0, 2))
	}},
	{"BatchNormTrain", "wrong_gamma_shape", []string{"gamma", "[4]", "[3]"}, func(e *env) {
		x := e.f(2, 3, 4, 4)
		e.b.BatchNormTrain(x, e.f(4), e.f(3), e.f(3), e.f(3), e.f(2, 3, 4, 4), e.f(3), e.f(3), 0.1, 1e-5)
	}},
	{"BatchNormTrain", "one_value_per_channel", []string{"[1, 3, 1, 1]"}, func(e *env) {
		e.b.BatchNormTrain(e.f(1, 3, 1, 1), e.f(3), e.f(3), e.f(3), e.f(3), e.f(1, 3, 1, 1), e.f(3), e.f(3), 0.1, 1e-5)
	}},
	{"BatchNormTrain", "one_value_per_channel_NC", []string{"[1, 3]"}, func(e *env) {
		e.b.BatchNormTrain(e.f(1, 3), e.f(3), e.f(3), e.f(3), e.f(3), e.f(1, 3), e.f(3), e.f(3), 0.1, 1e-5)
	}},
	{"BatchNormTrain", "float16_statistics", []string{"runMean", "float16"}, func(e *env) {
		h := e.alloc(ops.Float16, ops.Shape{3})
		e.b.BatchNormTrain(e.f(2, 3, 4, 4), e.f(3), e.f(3), h, e.f(3), e.f(2, 3, 4, 4), e.f(3), e.f(3), 0.1, 1e-5)
	}},
	{"BatchNormTrain", "input_3d", []string{"[2, 3, 4]"}, func(e *env) {
		e.b.BatchNormTrain(e.f(2, 3, 4), e.f(3), e.f(3), e.f(3), e.f(3), e.f(2, 3, 4), e.f(3), e.f(3), 0.1, 1e-5)
	}},
	{"BatchNormTrain", "momentum_above_1", []string{"momentum", "1.5"}, func(e *env) {
		e.b.BatchNormTrain(e.f(2, 3), e.f(3), e.f(3), e.f(3), e.f(3), e.f(2, 3), e.f(3), e.f(3), 1.5, 1e-5)
	}},
	{"BatchNormInfer", "wrong_output_shape", []string{"y", "[2, 3, 4, 5]", "[2, 3, 4, 4]"}, func(e *env) {
		e.b.BatchNormInfer(e.f(2, 3, 4, 4), e.f(3), e.f(3), e.f(3), e.f(3), e.f(2, 3, 4, 5), 1e-5)
	}},
	{"BatchNormInfer", "zero_eps", []string{"eps"}, func(e *env) {
		e.b.BatchNormInfer(e.f(2, 3), e.f(3), e.f(3), e.f(3), e.f(3), e.f(2, 3), 0)
	}},
	{"BatchNormBackward", "wrong_dgamma_shape", []string{"dgamma", "[2]", "[3]"}, func(e *env) {
		e.b.BatchNormBackward(e.f(2, 3, 4, 4), e.f(2, 3, 4, 4), e.f(3), e.f(3), e.f(3), e.f(2, 3, 4, 4), e.f(2), nil)
	}},
	{"BatchNormBackward", "wrong_dy_shape", []string{"dy", "[2, 3, 4, 5]", "[2, 3, 4, 4]"}, func(e *env) {
		e.b.BatchNormBackward(e.f(2, 3, 4, 5), e.f(2, 3, 4, 4), e.f(3), e.f(3), e.f(3), e.f(2, 3, 4, 4), nil, nil)
	}},
	{"BatchNormReLUBackward", "wrong_y_shape", []string{"y", "[2, 3, 4, 5]", "[2, 3, 4, 4]"}, func(e *env) {
		ops.BatchNormReLUBackward(e.b, e.f(2, 3, 4, 4), e.f(2, 3, 4, 4), e.f(2, 3, 4, 5), e.f(3), e.f(3), e.f(3), e.f(2, 3, 4, 4), nil, nil)
	}},
	{"ReLU", "wrong_output_shape", []string{"[3, 2]", "[2, 3]"}, func(e *env) { e.b.ReLU(e.f(2, 3), e.f(3, 2)) }},
	{"ReLU", "int_input", []string{"int32"}, func(e *env) {
		e.b.ReLU(e.alloc(ops.Int32, ops.Shape{4}), e.alloc(ops.Int32, ops.Shape{4}))
	}},
	{"ReLUBackward", "wrong_dx_shape", []string{"[5]", "[6]"}, func(e *env) { e.b.ReLUBackward(e.f(6), e.f(6), e.f(5)) }},
	{"MaxPool2d", "wrong_output_shape", []string{"y", "[1, 2, 8, 8]", "[1, 2, 4, 4]"}, func(e *env) {
		x := ops.Shape{1, 2, 8, 8}
		ms, mt := e.b.MaxPool2dMask(x, p3)
		e.b.MaxPool2d(e.f(x...), e.f(1, 2, 8, 8), e.alloc(mt, ms), p3)
	}},
	{"MaxPool2d", "padding_not_smaller_than_kernel", []string{"padding"}, func(e *env) {
		p := ops.Pool(2, 2, 2)
		e.b.MaxPool2d(e.f(1, 2, 8, 8), e.f(1, 2, 6, 6), e.f(1, 2, 6, 6), p)
	}},
	{"MaxPool2d", "wrong_mask_shape", []string{"mask"}, func(e *env) {
		x := ops.Shape{1, 2, 8, 8}
		ms, mt := e.b.MaxPool2dMask(x, p3)
		e.b.MaxPool2d(e.f(x...), e.f(1, 2, 4, 4), e.alloc(mt, append(ms.Clone(), 2)), p3)
	}},
	{"MaxPool2d", "wrong_mask_dtype", []string{"mask"}, func(e *env) {
		x := ops.Shape{1, 2, 8, 8}
		ms, mt := e.b.MaxPool2dMask(x, p3)
		other := ops.Float32
		if mt == ops.Float32 {
			other = ops.Int32
		}
		e.b.MaxPool2d(e.f(x...), e.f(1, 2, 4, 4), e.alloc(other, ms), p3)
	}},
	{"MaxPool2dMask", "zero_strides", nil, func(e *env) {
		e.b.MaxPool2dMask(ops.Shape{1, 2, 8, 8}, ops.Pool2dParams{KernelH: 3, KernelW: 3})
	}},
	{"MaxPool2dMask", "input_not_4d", []string{"[2, 8, 8]"}, func(e *env) { e.b.MaxPool2dMask(ops.Shape{2, 8, 8}, p3) }},
	{"MaxPool2dBackward", "nil_dx", []string{"nil"}, func(e *env) {
		ms, mt := e.b.MaxPool2dMask(ops.Shape{1, 2, 8, 8}, p3)
		e.b.MaxPool2dBackward(e.f(1, 2, 4, 4), e.f(1, 2, 8, 8), e.alloc(mt, ms), nil, p3)
	}},
	{"MaxPool2dBackward", "wrong_dx_shape", []string{"[1, 2, 4, 4]", "[1, 2, 4, 5]"}, func(e *env) {
		x := ops.Shape{1, 2, 8, 8}
		ms, mt := e.b.MaxPool2dMask(x, p3)
		e.b.MaxPool2dBackward(e.f(1, 2, 4, 4), e.f(1, 2, 8, 8), e.alloc(mt, ms), e.f(1, 2, 8, 9), p3)
	}},
	{"MaxPool2dBackward", "x_not_dx_shape", []string{"[1, 2, 8, 9]", "[1, 2, 8, 8]"}, func(e *env) {
		x := ops.Shape{1, 2, 8, 8}
		ms, mt := e.b.MaxPool2dMask(x, p3)
		e.b.MaxPool2dBackward(e.f(1, 2, 4, 4), e.f(1, 2, 8, 9), e.alloc(mt, ms), e.f(1, 2, 8, 8), p3)
	}},
	{"GlobalAvgPool", "wrong_output_shape", []string{"[2, 3, 1]", "[2, 3]"}, func(e *env) {
		e.b.GlobalAvgPool(e.f(2, 3, 4, 4), e.f(2, 3, 1))
	}},
	{"GlobalAvgPoolBackward", "wrong_dx_shape", []string{"[2, 3]", "[2, 4]"}, func(e *env) {
		e.b.GlobalAvgPoolBackward(e.f(2, 3), e.f(2, 4, 4, 4))
	}},
	{"MatMul", "inner_dimensions_differ", []string{"[3, 4]", "[5, 6]"}, func(e *env) {
		e.b.MatMul(e.f(3, 4), e.f(5, 6), e.f(3, 6), false, false)
	}},
	{"MatMul", "inner_dimensions_differ_transposed", []string{"[3, 4]", "[4, 6]"}, func(e *env) {
		e.b.MatMul(e.f(3, 4), e.f(4, 6), e.f(4, 6), true, false)
	}},
	{"MatMul", "wrong_output_shape", []string{"[6, 3]", "[3, 6]"}, func(e *env) {
		e.b.MatMul(e.f(3, 4), e.f(4, 6), e.f(6, 3), false, false)
	}},
	{"MatMul", "output_dtype", []string{"float16"}, func(e *env) {
		e.b.MatMul(e.f(3, 4), e.f(4, 6), e.alloc(ops.Float16, ops.Shape{3, 6}), false, false)
	}},
	{"MatMul", "not_a_matrix", []string{"[2, 3, 4]"}, func(e *env) {
		e.b.MatMul(e.f(2, 3, 4), e.f(4, 6), e.f(3, 6), false, false)
	}},
	{"BiasAdd", "wrong_bias_shape", []string{"bias", "[4]", "[3]"}, func(e *env) {
		e.b.BiasAdd(e.f(2, 3, 4), e.f(4), e.f(2, 3, 4))
	}},
	{"BiasAdd", "bias_dtype", []string{"bias", "float16"}, func(e *env) {
		e.b.BiasAdd(e.f(2, 3), e.alloc(ops.Float16, ops.Shape{3}), e.f(2, 3))
	}},
	{"BiasGrad", "wrong_db_shape", []string{"[2]", "[3]"}, func(e *env) { e.b.BiasGrad(e.f(2, 3, 4, 4), e.f(2)) }},
	{"BiasGrad", "dy_rank1", []string{"[4]"}, func(e *env) { e.b.BiasGrad(e.f(4), e.f(4)) }},
	{"CrossEntropy", "float32_labels", []string{"labels", "float32", "int32"}, func(e *env) {
		e.b.CrossEntropy(e.f(4, 10), e.f(4), e.f(4, 10), e.f(), 0)
	}},
	{"CrossEntropy", "wrong_label_count", []string{"labels", "[5]", "[4]"}, func(e *env) {
		e.b.CrossEntropy(e.f(4, 10), e.alloc(ops.Int32, ops.Shape{5}), e.f(4, 10), e.f(), 0)
	}},
	{"CrossEntropy", "loss_not_scalar", []string{"loss", "[1]"}, func(e *env) {
		e.b.CrossEntropy(e.f(4, 10), e.alloc(ops.Int32, ops.Shape{4}), e.f(4, 10), e.f(1), 0)
	}},
	{"CrossEntropy", "smoothing_above_1", []string{"smoothing", "1.5"}, func(e *env) {
		e.b.CrossEntropy(e.f(4, 10), e.alloc(ops.Int32, ops.Shape{4}), e.f(4, 10), e.f(), 1.5)
	}},
	{"CrossEntropyBackward", "int64_labels", []string{"labels", "int64"}, func(e *env) {
		e.b.CrossEntropyBackward(e.f(4, 10), e.alloc(ops.Int64, ops.Shape{4}), e.f(4, 10), 0, 1)
	}},
	{"CrossEntropyBackward", "wrong_dlogits_shape", []string{"[4, 10]", "[4, 11]"}, func(e *env) {
		e.b.CrossEntropyBackward(e.f(4, 10), e.alloc(ops.Int32, ops.Shape{4}), e.f(4, 11), 0, 1)
	}},
	{"Add", "shape_mismatch", []string{"[3, 2]", "[2, 3]"}, func(e *env) { e.b.Add(e.f(2, 3), e.f(3, 2), e.f(2, 3), 1) }},
	{"Add", "dtype_mismatch", []string{"float16"}, func(e *env) {
		e.b.Add(e.f(6), e.alloc(ops.Float16, ops.Shape{6}), e.f(6), 1)
	}},
	{"Scale", "wrong_output_shape", []string{"[7]", "[6]"}, func(e *env) { e.b.Scale(e.f(6), e.f(7), 2) }},
	{"Scale", "int_input", []string{"int32"}, func(e *env) {
		e.b.Scale(e.alloc(ops.Int32, ops.Shape{6}), e.alloc(ops.Int32, ops.Shape{6}), 2)
	}},
	{"SGDMomentum", "wrong_accum_shape", []string{"accum", "[16]", "[4, 4]"}, func(e *env) {
		e.b.SGDMomentum(e.f(4, 4), e.f(4, 4), e.f(16), ops.SGDParams{LR: 0.1})
	}},
	{"SGDMomentum", "wrong_grad_shape", []string{"grad", "[5]", "[4]"}, func(e *env) {
		e.b.SGDMomentum(e.f(4), e.f(5), e.f(4), ops.SGDParams{LR: 0.1})
	}},
	{"SGDMomentum", "float16_param", []string{"param", "float16"}, func(e *env) {
		e.b.SGDMomentum(e.alloc(ops.Float16, ops.Shape{4}), e.f(4), e.f(4), ops.SGDParams{LR: 0.1})
	}},
	{"SGDMomentum", "negative_lr", []string{"-0.1"}, func(e *env) {
		e.b.SGDMomentum(e.f(4), e.f(4), e.f(4), ops.SGDParams{LR: -0.1})
	}},
	{"AllFinite", "float32_out", []string{"out", "float32", "bool"}, func(e *env) { e.b.AllFinite([]ops.Tensor{e.f(4)}, e.f()) }},
	{"AllFinite", "int_tensor", []string{"ts[1]", "int32"}, func(e *env) {
		e.b.AllFinite([]ops.Tensor{e.f(4), e.alloc(ops.Int32, ops.Shape{4})}, e.alloc(ops.Bool, ops.Shape{}))
	}},
	{"Cast", "shape_mismatch", []string{"[3, 2]", "[2, 3]"}, func(e *env) {
		e.b.Cast(e.f(2, 3), e.alloc(ops.Float16, ops.Shape{3, 2}))
	}},
	{"Cast", "nil_input", []string{"nil"}, func(e *env) { e.b.Cast(nil, e.f(2)) }},
	// A tensor may not be used, or freed again, after Free (these bypass the env's bookkeeping).
	{"ReLU", "use_after_free", []string{"Free"}, func(e *env) {
		x := e.b.Alloc(ops.Float32, ops.Shape{4})
		e.b.Free(x)
		e.b.ReLU(x, x)
	}},
	{"Free", "twice", nil, func(e *env) {
		x := e.b.Alloc(ops.Float32, ops.Shape{4})
		e.b.Free(x)
		e.b.Free(x)
	}},
	{"Copy", "shape_mismatch", []string{"[6]", "[2, 3]"}, func(e *env) { e.b.Copy(e.f(2, 3), e.f(6)) }},
	{"Copy", "dtype_mismatch", []string{"int32", "float32"}, func(e *env) { e.b.Copy(e.f(6), e.alloc(ops.Int32, ops.Shape{6})) }},
	{"Write", "wrong_byte_count", []string{"20", "[6]"}, func(e *env) { e.b.Write(e.f(6), make([]byte, 20)) }},
	{"Read", "wrong_byte_count", []string{"28", "[6]"}, func(e *env) { _ = e.b.Read(e.f(6), make([]byte, 28)) }},
}

// testMisuse checks that every misuse panics with the kernel's name, and that the backend still
// works afterwards.
func testMisuse(t *testing.T, b ops.Backend) {
	for _, c := range misuseCases {
		run(t, b, c.op+"/"+c.name, func(e *env) {
			e.panics(c.op, func() { c.call(e) }, c.mentions...)
			x := e.tensor(ops.Shape{3}, []float32{1, -2, 3})
			y := e.out(ops.Shape{3})
			b.Copy(x, y)
			e.exact("copy after the misuse", e.read(y), []float64{1, -2, 3})
		})
	}
}
