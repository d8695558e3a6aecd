package nn

import (
	"strconv"

	"github.com/resnext/resnext/ops"
)

// Named is a child layer with the name its parameters are prefixed with.
type Named struct {
	// Name is the child's name in the parent ("conv1", "layer1", "0").
	Name string
	// Layer is the child.
	Layer Layer
}

// Sequential chains layers: each one's output is the next one's input. It names its children's
// parameters as MindSpore's SequentialCell does ("0.weight", "1.gamma", ...), or by the given
// names (NewNamedSequential), so that a network of nested Sequentials carries MindCV's full names
// ("layer1.0.conv1.weight").
type Sequential struct {
	children   []Named
	params     []*Param
	layers     []Layer // the children's layers, in order, for ForwardChain
	evaluating bool    // set by SetTraining(false): Forward releases buffers as it goes
}

// NewSequential chains layers, naming the i-th one "<i>" (MindSpore's SequentialCell).
func NewSequential(layers ...Layer) *Sequential {
	children := make([]Named, len(layers))
	for i, l := range layers {
		children[i] = Named{strconv.Itoa(i), l}
	}
	return NewNamedSequential(children...)
}

// NewNamedSequential chains the children in order, prefixing each one's parameter names with its
// name (see Child). A layer must belong to one parent only.
func NewNamedSequential(children ...Named) *Sequential {
	s := &Sequential{children: children}
	for _, c := range children {
		if c.Layer == nil || c.Name == "" {
			misuse("NewNamedSequential", "child %q has no name or is nil", c.Name)
		}
		s.params = append(s.params, Child(c.Name, c.Layer)...)
		s.layers = append(s.layers, c.Layer)
	}
	return s
}

// Layers returns the children in order.
func (s *Sequential) Layers() []Named { return s.children }

// Forward runs the children in order.
func (s *Sequential) Forward(x ops.Tensor) ops.Tensor {
	return ForwardChain(s.layers, x, s.evaluating)
}

// ForwardChain runs layers in order on x and returns the last output. With release (evaluation,
// where nothing calls Backward) it gives each layer's buffers back (ReleaseBuffers) as soon as no
// later layer can read them: once the next layer has run, unless that layer handed the same tensor
// on (an in-place ReLU), in which case the owner is released after the layer that finally reads it.
// The last layer keeps its buffers: its output is the result. In a deep network this bounds the
// memory of a forward pass by a few layers' outputs instead of all of them.
func ForwardChain(layers []Layer, x ops.Tensor, release bool) ops.Tensor {
	if !release {
		for _, l := range layers {
			x = l.Forward(x)
		}
		return x
	}
	type held struct {
		l   Layer
		out ops.Tensor
	}
	var live []held
	for _, l := range layers {
		y := l.Forward(x)
		keep := live[:0]
		for _, h := range live {
			if h.out == y {
				keep = append(keep, h)
			} else {
				h.l.ReleaseBuffers()
			}
		}
		live = append(keep, held{l, y})
		x = y
	}
	return x
}

// Backward runs the children's Backward in reverse order. When a child returns a nil input
// gradient (NoInputGrad), Backward stops there and returns nil: the layers before it get no
// gradients.
func (s *Sequential) Backward(dy ops.Tensor) ops.Tensor {
	for i := len(s.children) - 1; i >= 0 && dy != nil; i-- {
		dy = s.children[i].Layer.Backward(dy)
	}
	return dy
}

// Params returns the children's parameters in order, with their prefixed names.
func (s *Sequential) Params() []*Param { return s.params }

// SetTraining sets the mode of every child.
func (s *Sequential) SetTraining(training bool) {
	s.evaluating = !training
	for _, c := range s.children {
		c.Layer.SetTraining(training)
	}
}

// Free frees every child.
func (s *Sequential) Free() {
	for _, c := range s.children {
		c.Layer.Free()
	}
}

// ReleaseBuffers releases every child's buffers.
func (s *Sequential) ReleaseBuffers() {
	for _, c := range s.children {
		c.Layer.ReleaseBuffers()
	}
}
