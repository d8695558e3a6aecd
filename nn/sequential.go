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
	layers     []Layer // the children's layers, in order, for ForwardChain and BackwardChain
	out        Layer   // the child holding the last Forward's output
	evaluating bool    // set by SetTraining(false): Forward releases buffers as it goes
	keep       bool    // set by KeepBuffers(true): Backward releases nothing
	done       func(Layer)
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

// Forward runs the children in order (ForwardChain). In evaluation it gives each child's buffers
// back as soon as the next one has read them.
func (s *Sequential) Forward(x ops.Tensor) ops.Tensor {
	var y ops.Tensor
	y, s.out = ForwardChain(s.layers, x, s.evaluating)
	return y
}

// Backward runs the children's Backward in reverse order (BackwardChain): in training it gives each
// child's buffers back as soon as nothing can read them, unless KeepBuffers(true) was called. The
// output of the last Forward and the returned gradient stay valid. When a child returns a nil input
// gradient (NoInputGrad), Backward stops there and returns nil: the layers before it get no
// gradients.
func (s *Sequential) Backward(dy ops.Tensor) ops.Tensor {
	return BackwardChainNotify(s.layers, dy, !s.keep, s.out, s.done)
}

// NotifyBackward makes Backward call done with each child as soon as the child's Backward has
// returned (BackwardChainNotify); nil stops it.
func (s *Sequential) NotifyBackward(done func(Layer)) { s.done = done }

// Params returns the children's parameters in order, with their prefixed names.
func (s *Sequential) Params() []*Param { return s.params }

// SetTraining sets the mode of every child.
func (s *Sequential) SetTraining(training bool) {
	s.evaluating = !training
	for _, c := range s.children {
		c.Layer.SetTraining(training)
	}
}

// KeepBuffers sets whether training keeps the children's buffers (see BufferKeeper), for every
// child that has the setting too.
func (s *Sequential) KeepBuffers(keep bool) {
	s.keep = keep
	for _, l := range s.layers {
		SetKeepBuffers(l, keep)
	}
}

// Free frees every child.
func (s *Sequential) Free() {
	for _, c := range s.children {
		c.Layer.Free()
	}
}

// ReleaseOutput gives back the output (see OutputReleaser) when the last child holds it and can
// give it back. When later children handed it on (an in-place ReLU, which reads it in Backward),
// it stays.
func (s *Sequential) ReleaseOutput() {
	if r, ok := s.out.(OutputReleaser); ok && len(s.layers) > 0 && s.out == s.layers[len(s.layers)-1] {
		r.ReleaseOutput()
	}
}

// ReleaseBackward gives back every child's buffers but the output (ReleaseBackwardChain).
func (s *Sequential) ReleaseBackward() { ReleaseBackwardChain(s.layers, s.out) }

// ReleaseBuffers releases every child's buffers.
func (s *Sequential) ReleaseBuffers() {
	for _, c := range s.children {
		c.Layer.ReleaseBuffers()
	}
}

var _ Layer = (*Sequential)(nil)
