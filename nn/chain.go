package nn

import "github.com/resnext/resnext/ops"

// ForwardChain runs layers in order on x and returns the last output and the layer that holds it
// (owns its buffer): the last layer, or, when the last layers handed their input on (in-place
// ReLUs), the one before them; nil when every layer handed its input on.
//
// With release (evaluation, where nothing calls Backward) it gives each layer's buffers back
// (ReleaseBuffers) as soon as no later layer can read them: once the next layer has run, unless
// that layer handed the same tensor on, in which case the owner is released after the layer that
// finally reads it. The layers holding the result keep their buffers. In a deep network this
// bounds the memory of a forward pass by a few layers' outputs instead of all of them.
func ForwardChain(layers []Layer, x ops.Tensor, release bool) (y ops.Tensor, holder Layer) {
	return pass(layers, false, x, release, nil, nil)
}

// BackwardChain runs the Backward of layers in reverse order from dy, the gradient of the last
// layer's output, and returns the gradient of the first layer's input. When a layer returns a nil
// input gradient (NoInputGrad), it stops there and returns nil: the layers before it get no
// gradients.
//
// With release (training; see Buffers in the package documentation) it gives each layer's buffers
// back (ReleaseBuffers) as soon as nothing can read them any more: a layer's output, saved state
// and input gradient are dead once the layer before it has consumed the gradient it returned (the
// layers after it have run their Backward already). An in-place layer returns the gradient it was
// given, so its owner is released after the layer that finally reads it, as in ForwardChain. The
// layers holding the result, which the caller reads, keep their buffers, and out, the holder of
// the chain's output that ForwardChain reported (nil for none), keeps its output (ReleaseBackward
// instead of ReleaseBuffers), so that the output of the last Forward stays valid after Backward.
// A nil gradient ends the chain with nothing left to read, so every layer is released then, those
// that did not run included.
func BackwardChain(layers []Layer, dy ops.Tensor, release bool, out Layer) ops.Tensor {
	return BackwardChainNotify(layers, dy, release, out, nil)
}

// BackwardChainNotify is BackwardChain calling done (when not nil) with each layer as soon as its
// Backward has returned: its parameter gradients are written (queued, on a device backend) while
// the layers before it still have theirs to compute. A data-parallel step starts averaging them
// then.
func BackwardChainNotify(layers []Layer, dy ops.Tensor, release bool, out Layer, done func(Layer)) ops.Tensor {
	dx, _ := pass(layers, true, dy, release, out, done)
	return dx
}

// pass threads t through layers, Forward from the first to the last or Backward from the last to
// the first, and returns what the last step returned and the layer that made it (nil when every
// step handed its input on). With release it gives a layer's buffers back once no later step can
// read them, but for keep's output and the holders of the result (see ForwardChain and
// BackwardChain).
//
// done, when not nil, is called with each layer after its step.
//
// A step reads the tensor handed to it and what its layer saved: its own buffers, and, in a
// backward pass, its forward input, which belongs to a layer that runs after it. So the layers
// holding t (the one that made it and those that handed it on since) are dead once a step has
// returned something else. Those are always the last ones run, so the pass tracks them by position
// and allocates nothing.
func pass(layers []Layer, backward bool, t ops.Tensor, release bool, keep Layer, done func(Layer)) (ops.Tensor, Layer) {
	n := len(layers)
	at := func(i int) Layer {
		if backward {
			return layers[n-1-i]
		}
		return layers[i]
	}
	drop := func(from, to int) {
		for i := from; release && i < to; i++ {
			releaseBut(at(i), keep)
		}
	}
	var holder Layer
	start, i := 0, 0 // at(start) .. at(i-1) hold t
	for ; i < n && (t != nil || !backward); i++ {
		l := at(i)
		var y ops.Tensor
		if backward {
			y = l.Backward(t)
		} else {
			y = l.Forward(t)
		}
		if done != nil {
			done(l)
		}
		if y != t {
			drop(start, i)
			start, holder = i, l
		}
		t = y
	}
	if t == nil && backward {
		drop(start, n)
	}
	return t, holder
}

// ReleaseBackwardChain gives back the buffers of layers, a network's layers, but for the output of
// out, the one holding the network's output (nil for none): ReleaseBuffers on every layer but out,
// ReleaseBackward on out. It is what a network's ReleaseBackward does.
func ReleaseBackwardChain(layers []Layer, out Layer) {
	for _, l := range layers {
		releaseBut(l, out)
	}
}

// releaseBut gives back l's buffers, or, when l is out, all but its output.
func releaseBut(l, out Layer) {
	if l == out {
		l.ReleaseBackward()
	} else {
		l.ReleaseBuffers()
	}
}
