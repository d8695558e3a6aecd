package ops

import "strings"

// SGDGroup is what a backend implements to run the momentum step of many parameters in a few
// kernels instead of several per parameter: on an accelerator each kernel costs host time to
// queue, and a network has hundreds of parameters. Callers use the function SGDMomentumGroup,
// which takes the backend's group step when it has one and SGDMomentum on each triple otherwise.
type SGDGroup interface {
	// SGDMomentumGroup is SGDMomentum(params[i], grads[i], accums[i], p) for every i: the same
	// results, element for element, as the step of each triple on its own. A backend may keep
	// state across calls made with the same lists, the same tensors in the same order (the Ascend
	// backend moves them into one block of memory), but must compare the tensors, not the slices:
	// a caller may refill a slice it passed before. Write, Read, Copy and every kernel still see
	// each tensor as before.
	SGDMomentumGroup(params, grads, accums []Tensor, p SGDParams)
}

// SGDMomentumGroup does one momentum-SGD step with the same hyper-parameters on every triple
// (params[i], grads[i], accums[i]), as SGDMomentum on each triple in turn does, in a few kernels
// where b has a group step (SGDGroup). The lists are checked before any step is queued:
// lists of different lengths, or a triple SGDMomentum would refuse, panic with a message naming
// ops.SGDMomentumGroup and the index at fault. Calling it with the same lists step after step
// lets a backend keep what it prepared for them.
func SGDMomentumGroup(b Backend, params, grads, accums []Tensor, p SGDParams) {
	if g, ok := b.(SGDGroup); ok {
		g.SGDMomentumGroup(params, grads, accums, p)
		return
	}
	CheckSGDGroup(params, grads, accums, p)
	for i := range params {
		b.SGDMomentum(params[i], grads[i], accums[i], p)
	}
}

// CheckSGDGroup checks the operands of SGDMomentumGroup: three lists of one length, and each
// triple as CheckSGD checks it. The message names ops.SGDMomentumGroup and the index.
func CheckSGDGroup(params, grads, accums []Tensor, p SGDParams) {
	const op = "SGDMomentumGroup"
	if len(grads) != len(params) || len(accums) != len(params) {
		Misuse(op, "%d params, %d grads and %d accums: want one of each per parameter", len(params), len(grads), len(accums))
	}
	if p.Momentum < 0 || p.WeightDecay < 0 || p.LR < 0 {
		Misuse(op, "negative hyper-parameter in %+v", p)
	}
	for i := range params {
		checkSGDAt(i, params[i], grads[i], accums[i], p)
	}
}

// checkSGDAt runs CheckSGD on triple i and turns its panic into one of SGDMomentumGroup's.
func checkSGDAt(i int, param, grad, accum Tensor, p SGDParams) {
	defer func() {
		if r := recover(); r != nil {
			msg, ok := r.(string)
			if !ok {
				panic(r)
			}
			Misuse("SGDMomentumGroup", "index %d: %s", i, strings.TrimPrefix(msg, "ops.SGDMomentum: "))
		}
	}()
	CheckSGD(param, grad, accum, p)
}
