package opstest

import "math"

// directional checks a backend's backward against its own forward in float32, by a central
// difference along one random direction.
//
// loss is a scalar function of the inputs computed with the backend's forward kernels (usually
// sum(r*y) for a fixed random r, whose gradient the backward kernels give with dy = r); grads are
// the gradients the backend's backward kernels returned at inputs. With d a random normal direction
// and x± = float32(x ± h*d), the check compares
//
//	fd = (loss(x+) - loss(x-)) / 2   with   an = sum(grad * (x+ - x-)/2)
//
// (the realised step, so the rounding of x± to float32 does not count as error) and passes when
//
//	|fd - an| <= tolFD * (|an| + |grad|*|step|/sqrt(n)),
//
// n being the number of inputs: the second term is the size a directional derivative has for a
// random direction, so a derivative that happens to be near zero does not make the check flaky.
func (e *env) directional(inputs [][]float32, grads [][]float32, h float64, loss func(in [][]float32) float64) {
	e.t.Helper()
	plus := make([][]float32, len(inputs))
	minus := make([][]float32, len(inputs))
	var an, gNorm, sNorm float64
	n := 0
	for i, x := range inputs {
		if len(grads[i]) != len(x) {
			e.t.Fatalf("directional: input %d has %d values, gradient %d", i, len(x), len(grads[i]))
		}
		plus[i] = make([]float32, len(x))
		minus[i] = make([]float32, len(x))
		for j, v := range x {
			d := e.rng.NormFloat64()
			plus[i][j] = float32(float64(v) + h*d)
			minus[i][j] = float32(float64(v) - h*d)
			step := (float64(plus[i][j]) - float64(minus[i][j])) / 2
			g := float64(grads[i][j])
			an += g * step
			gNorm += g * g
			sNorm += step * step
		}
		n += len(x)
	}
	fd := (loss(plus) - loss(minus)) / 2
	scale := math.Abs(an) + math.Sqrt(gNorm*sNorm/float64(n))
	if math.IsNaN(fd) || math.IsNaN(an) || math.Abs(fd-an) > tolFD*scale {
		e.t.Errorf("directional derivative: finite difference %.6g, backward %.6g (|diff| %.3g > %.0e x %.3g)",
			fd/h, an/h, math.Abs(fd-an)/h, tolFD, scale/h)
	}
}

// weighted is sum(r*y) in float64: the scalar whose gradient with respect to y is r.
func weighted(r, y []float32) float64 {
	s := 0.0
	for i := range r {
		s += float64(r[i]) * float64(y[i])
	}
	return s
}
