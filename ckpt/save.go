package ckpt

import (
	"fmt"
	"maps"

	"github.com/resnext/resnext/ckpt/safetensors"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// FromParams copies the parameters' values to the host as a checkpoint of float32 tensors named by
// their (MindCV) names, in the model's order. All of them go into Tensors.
func FromParams(params []*nn.Param, b ops.Backend) (*Checkpoint, error) {
	c := &Checkpoint{Metadata: map[string]string{}}
	seen := map[string]bool{}
	for _, p := range params {
		switch {
		case p == nil || p.Value == nil:
			return nil, fmt.Errorf("ckpt: a parameter has no value")
		case p.Name == "":
			return nil, fmt.Errorf("ckpt: a parameter of shape %v has no name", p.Value.Shape())
		case seen[p.Name]:
			return nil, fmt.Errorf("ckpt: two parameters are called %q", p.Name)
		}
		seen[p.Name] = true
		v, err := ops.ToFloat32(b, p.Value)
		if err != nil {
			return nil, fmt.Errorf("ckpt: parameter %q: %w", p.Name, err)
		}
		c.Tensors = append(c.Tensors, Tensor{Name: p.Name, DType: safetensors.F32, Shape: p.Value.Shape().Clone(),
			Data: append([]byte(nil), ops.Bytes(v)...)})
	}
	return c, nil
}

// SaveOptions adds to what Save writes.
type SaveOptions struct {
	// Extra entries (optimizer state such as moments.<param>, momentum, learning_rate,
	// global_step) are written after the parameters.
	Extra []Tensor
	// Metadata is written as the format allows (see Checkpoint.Write).
	Metadata map[string]string
	// PoolPadding, when set, records the max-pool padding style the weights go with.
	PoolPadding nn.PoolPadding
	// SliceBytes splits large tensors of a .ckpt into slices (see WriteOptions).
	SliceBytes int
}

// Save writes the parameters with their MindCV names, then opt.Extra, to path (.ckpt or
// .safetensors) atomically.
func Save(params []*nn.Param, b ops.Backend, path string, opt SaveOptions) error {
	c, err := FromParams(params, b)
	if err != nil {
		return fmt.Errorf("%w (saving %s)", err, path)
	}
	c.Extra = opt.Extra
	maps.Copy(c.Metadata, opt.Metadata)
	if opt.PoolPadding != "" {
		style, err := nn.ParsePoolPadding(string(opt.PoolPadding))
		if err != nil {
			return fmt.Errorf("ckpt %s: %w", path, err)
		}
		c.SetPoolPadding(style)
	}
	return c.WriteWith(path, WriteOptions{SliceBytes: opt.SliceBytes})
}
