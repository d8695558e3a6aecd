package cpu

import (
	"math"
	"sync/atomic"

	"github.com/resnext/resnext/ops"
)

// SGDMomentum does one momentum-SGD step in place, in float32: g = grad*GradScale +
// WeightDecay*param; accum = Momentum*accum + g; param -= LR*accum, or LR*(g + Momentum*accum) with
// Nesterov. grad must be Float32 here (Cast a half-precision gradient first).
func (b *Backend) SGDMomentum(param, grad, accum ops.Tensor, p ops.SGDParams) {
	const op = "SGDMomentum"
	ops.CheckSGD(param, grad, accum, p)
	ps, gs, as := f32(op, param), f32(op, grad), f32(op, accum)
	scale := p.GradScale
	if scale == 0 {
		scale = 1
	}
	gsc, wd, mom, lr := float32(scale), float32(p.WeightDecay), float32(p.Momentum), float32(p.LR)
	nesterov := p.Nesterov
	b.parallelFor(len(ps), 4, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g := gs[i]*gsc + wd*ps[i]
			a := mom*as[i] + g
			as[i] = a
			if nesterov {
				a = g + mom*a
			}
			ps[i] -= lr * a
		}
	})
}

// AllFinite writes 1 into out when no element of any tensor in ts is NaN or infinite, else 0.
// Float32, Float16 and BFloat16 tensors are checked by their exponent bits.
func (b *Backend) AllFinite(ts []ops.Tensor, out ops.Tensor) {
	const op = "AllFinite"
	ops.CheckAllFinite(ts, out)
	res := get(op, out).bytes()
	res[0] = 1
	for _, t := range ts {
		if !b.finite(get(op, t)) {
			res[0] = 0
			return
		}
	}
}

// finite reports whether every element of t is finite.
func (b *Backend) finite(t *tensor) bool {
	var bad atomic.Bool
	switch t.dtype {
	case ops.Float32:
		s := t.f32()
		b.parallelFor(len(s), 1, func(lo, hi int) {
			for _, v := range s[lo:hi] {
				if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
					bad.Store(true)
					return
				}
			}
		})
	case ops.Float16, ops.BFloat16:
		exp := uint16(0x7c00)
		if t.dtype == ops.BFloat16 {
			exp = 0x7f80
		}
		s := t.u16()
		b.parallelFor(len(s), 1, func(lo, hi int) {
			for _, v := range s[lo:hi] {
				if v&exp == exp {
					bad.Store(true)
					return
				}
			}
		})
	}
	return !bad.Load()
}
