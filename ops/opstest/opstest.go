// Package opstest is the conformance suite every ops.Backend passes.
//
// Run checks each kernel of ops.Backend on its own:
//   - values against a float64 reference written in this package (ref.go: naive loops straight from
//     the definitions in ops.Backend), on seeded random data, with the metric
//     max|got-want| <= tol*max(max|want|, 1e-6) (env.go), outputs filled with NaN before each call
//     so an unwritten element fails, and inputs checked unchanged afterwards;
//   - backward kernels against the reference backward (itself proven against central differences
//     of the reference forward in ref_test.go), and against the backend's own forward by a
//     directional finite difference in float32 (fd.go) for convolution, batch norm, pooling,
//     cross-entropy and matmul;
//   - the edge shapes ResNeXt meets: batches of 0, 1, 3 and 4, odd sizes, 1x1 inputs and outputs,
//     groups of 1, 2, 32, 64 and equal to the channels, strides 1, 2 and 3, padding (up to the
//     kernel's size), 1x1, 3x3 and 7x7 kernels, dilation, torchvision and "same" max-pool padding,
//     and sizes past a typical GEMM block;
//   - special values and accuracy: NaN, infinities and signed zeros through ReLU and max pooling,
//     ties and windows with nothing finite, batch norm over many values far from zero (where float32
//     sums fail), logits far outside exp's range, label smoothing 0 to 1, every combination of the
//     SGD options over several steps;
//   - the aliasing the interface allows (in-place ReLU, ReLUBackward, Add, Scale, BiasAdd, and the
//     running statistics BatchNormTrain updates in place);
//   - misuse panicking at once with a message naming ops.<Kernel> and the shapes, dtypes or values
//     at fault;
//   - memory round trips for every dtype, Fill, Copy, Cast with known bit patterns (rounding,
//     saturation, wrap-around, Bool) and round trips, and Sync.
//
// A kernel that panics fails its own subtests and the rest of the suite still runs. The PyTorch
// fixtures (fixtures.go, testdata/) run first.
package opstest

import (
	"testing"

	"github.com/resnext/resnext/ops"
)

// Run runs the whole suite against b.
func Run(t *testing.T, b ops.Backend) {
	t.Run("fixtures", func(t *testing.T) { runFixtures(t, b) })
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.run(t, b) })
	}
}

// groups are the suite's top-level subtests, one per kernel (or family of host operations).
var groups = []struct {
	name string
	run  func(t *testing.T, b ops.Backend)
}{
	{"Memory", testMemory},
	{"Sync", testSync},
	{"Conv2d", testConv2d},
	{"Conv2dBackward", testConv2dBackward},
	{"BatchNormTrain", testBatchNormTrain},
	{"BatchNormInfer", testBatchNormInfer},
	{"BatchNormBackward", testBatchNormBackward},
	{"BatchNormReLU", testBatchNormReLU},
	{"ReLU", testReLU},
	{"ReLUBackward", testReLUBackward},
	{"MaxPool2d", testMaxPool2d},
	{"MaxPool2dBackward", testMaxPool2dBackward},
	{"GlobalAvgPool", testGlobalAvgPool},
	{"GlobalAvgPoolBackward", testGlobalAvgPoolBackward},
	{"MatMul", testMatMul},
	{"BiasAdd", testBiasAdd},
	{"BiasGrad", testBiasGrad},
	{"CrossEntropy", testCrossEntropy},
	{"CrossEntropyBackward", testCrossEntropyBackward},
	{"Add", testAdd},
	{"Scale", testScale},
	{"SGDMomentum", testSGDMomentum},
	{"AllFinite", testAllFinite},
	{"Cast", testCast},
	{"Misuse", testMisuse},
}
