package train

import (
	"math/rand/v2"
	"testing"

	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/resnext"
	"github.com/resnext/resnext/train/optim"
)

// BenchmarkTrainStep is one training step (forward, loss, backward, momentum SGD) of each small
// variant on 28x28 grey-scale images in batches of 32, on the CPU backend.
func BenchmarkTrainStep(b *testing.B) {
	for _, name := range []string{"resnext14_small", "resnext26_small"} {
		b.Run(name, func(bb *testing.B) {
			be := testutil.CPU(bb, 2)
			cfg, _ := resnext.Variant(name)
			m, err := resnext.New(be, cfg, 1)
			if err != nil {
				bb.Fatal(err)
			}
			defer m.Free()
			const n = 32
			x := testutil.Upload(be, ops.Shape{n, 1, 28, 28}, testutil.Randn(rand.New(rand.NewPCG(1, 1)), n*28*28, 1))
			defer be.Free(x)
			labels := make([]int32, n)
			for i := range labels {
				labels[i] = int32(i % 10)
			}
			y := ops.FromInt32(be, ops.Shape{n}, labels)
			defer be.Free(y)
			ce := nn.NewSoftmaxCrossEntropy(be, 0.1)
			defer ce.Free()
			opt, err := optim.New(be, m.Params(), optim.Options{Opt: "momentum", Momentum: 0.9, WeightDecay: 1e-4})
			if err != nil {
				bb.Fatal(err)
			}
			defer opt.Free()
			bb.ResetTimer()
			for range bb.N {
				ce.Forward(m.Forward(x), y)
				m.Backward(ce.Backward(1))
				opt.Step(0.01, 1, nil)
			}
			if err := be.Sync(); err != nil {
				bb.Fatal(err)
			}
			bb.ReportMetric(float64(n*bb.N)/bb.Elapsed().Seconds(), "img/s")
		})
	}
}
