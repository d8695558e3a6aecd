package nn

import (
	"math"
	"math/rand/v2"

	"github.com/resnext/resnext/ops"
)

// Initialisers. MindCV's ResNeXt initialises every convolution with HeNormal (fan_out, ReLU),
// BatchNorm with gamma 1 and beta 0 (as NewBatchNorm2d does), and the classifier with HeUniform
// (fan_in, gain 1) and a zero bias. The values are drawn on the host in C order from the given
// generator, so a run with the same seed is reproducible on every backend.

// NewRand returns a generator seeded with seed (PCG), for reproducible initialisation.
func NewRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0)) }

// Fans returns a weight's fan-in and fan-out as MindSpore computes them: for [out, in] they are in
// and out; for a convolution [out, in/groups, kh, kw] they are in/groups*kh*kw and out*kh*kw.
func Fans(s ops.Shape) (fanIn, fanOut int) {
	if len(s) < 2 {
		misuse("Fans", "weight shape %v has fewer than 2 dimensions", s)
	}
	field := s[2:].Numel()
	return s[1] * field, s[0] * field
}

// HeNormal fills the weight t from N(0, 2/fan_out): MindSpore's HeNormal(mode='fan_out',
// nonlinearity='relu'), MindCV's convolution init. For a convolution the variance is 2/(out*k*k).
func HeNormal(b ops.Backend, t ops.Tensor, r *rand.Rand) {
	_, fanOut := Fans(t.Shape())
	Normal(b, t, r, math.Sqrt(2/float64(fanOut)))
}

// HeUniform fills the weight t from U(-sqrt(3/fan_in), sqrt(3/fan_in)): MindSpore's
// HeUniform(mode='fan_in', nonlinearity='sigmoid') (gain 1), MindCV's classifier init.
func HeUniform(b ops.Backend, t ops.Tensor, r *rand.Rand) {
	fanIn, _ := Fans(t.Shape())
	Uniform(b, t, r, math.Sqrt(3/float64(fanIn)))
}

// Normal fills t from N(0, std²).
func Normal(b ops.Backend, t ops.Tensor, r *rand.Rand, std float64) {
	fillHost(b, t, func() float64 { return r.NormFloat64() * std })
}

// Uniform fills t from U(-bound, bound).
func Uniform(b ops.Backend, t ops.Tensor, r *rand.Rand, bound float64) {
	fillHost(b, t, func() float64 { return (2*r.Float64() - 1) * bound })
}

// Zeros fills t with 0.
func Zeros(b ops.Backend, t ops.Tensor) { b.Fill(t, 0) }

// Ones fills t with 1.
func Ones(b ops.Backend, t ops.Tensor) { b.Fill(t, 1) }

// fillHost draws every element of the float32 tensor t from next, in C order, and writes them.
func fillHost(b ops.Backend, t ops.Tensor, next func() float64) {
	if t == nil {
		misuse("init", "nil tensor")
	}
	if t.DType() != ops.Float32 {
		misuse("init", "tensor %v has dtype %v, want float32", t.Shape(), t.DType())
	}
	v := make([]float32, t.Shape().Numel())
	for i := range v {
		v[i] = float32(next())
	}
	b.Write(t, ops.Bytes(v))
}
