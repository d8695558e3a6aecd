package resnext

import (
	"github.com/resnext/resnext/ops"
)

// shapeOnly is a backend that allocates no storage: its tensors are shapes and it accepts only the
// calls that building a model makes (Alloc, Fill, Free), so the largest variants build in
// microseconds for counting and naming their parameters. Any other kernel panics (the embedded nil
// interface).
type shapeOnly struct{ ops.Backend }

type shapeTensor struct {
	shape ops.Shape
	dt    ops.DType
}

func (s *shapeTensor) Shape() ops.Shape { return s.shape }
func (s *shapeTensor) DType() ops.DType { return s.dt }

func (shapeOnly) Name() string                               { return "shapes" }
func (shapeOnly) Alloc(dt ops.DType, s ops.Shape) ops.Tensor { return &shapeTensor{s.Clone(), dt} }
func (shapeOnly) Fill(ops.Tensor, float64)                   {}
func (shapeOnly) Free(ops.Tensor)                            {}
