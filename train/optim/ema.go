package optim

import (
	"math"

	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
)

// EMAWarmup is the time constant, in updates, of the EMA's decay warmup: MindCV's train step uses
// decay*(1 - exp(-updates/2000)).
const EMAWarmup = 2000

// EMA keeps the exponential moving average of a network's parameters as MindCV's train step does
// (ema, ema_decay): every parameter, trainable or not, BatchNorm's moving statistics included
// (MindCV averages network.get_parameters()), starting from their values at NewEMA. Update n
// (counting from 1) does
//
//	d = decay * (1 - exp(-n/2000));  ema = ema*d + param*(1 - d)
//
// so the average follows the weights closely early in training. The decay and its warmup are
// computed in float32, as MindSpore computes them.
type EMA struct {
	b       ops.Backend
	params  []*nn.Param
	ema     []ops.Tensor
	decay   float64
	updates int
}

// NewEMA returns the moving average of params (all of them) with the given decay (MindCV's
// ema_decay, 0.9999 by default), each average a copy of its parameter.
func NewEMA(b ops.Backend, params []*nn.Param, decay float64) *EMA {
	e := &EMA{b: b, params: append([]*nn.Param(nil), params...), decay: decay}
	for _, p := range params {
		t := b.Alloc(p.Value.DType(), p.Value.Shape())
		b.Copy(p.Value, t)
		e.ema = append(e.ema, t)
	}
	return e
}

// Decay returns the decay the next Update uses: ema_decay * (1 - exp(-(Updates()+1)/2000)), in
// float32.
func (e *EMA) Decay() float64 {
	n := float32(e.updates + 1)
	warm := float32(math.Exp(float64(-n / EMAWarmup)))
	return float64(float32(e.decay) * (1 - warm))
}

// Update moves the averages toward the parameters' current values. Call it after each step that
// was not skipped for overflow (MindCV also calls it on the micro-batches of gradient accumulation
// that do not update the weights).
func (e *EMA) Update() {
	d := float32(e.Decay())
	e.updates++
	for i, p := range e.params {
		e.b.Scale(e.ema[i], e.ema[i], float64(d))
		e.b.Add(e.ema[i], p.Value, e.ema[i], float64(1-d))
	}
}

// Swap exchanges the parameters' values and the averages, to evaluate or save the averaged
// weights; a second Swap restores them. It copies the values (through one temporary tensor per
// parameter, taken from the backend's pool), so the parameters keep their tensors.
func (e *EMA) Swap() {
	for i, p := range e.params {
		tmp := e.b.Alloc(p.Value.DType(), p.Value.Shape())
		e.b.Copy(p.Value, tmp)
		e.b.Copy(e.ema[i], p.Value)
		e.b.Copy(tmp, e.ema[i])
		e.b.Free(tmp)
	}
}

// Tensors returns the averages with the names MindCV saves them under in checkpoints
// ("ema.<param name>"), in the order of the parameters given to NewEMA. Writing into the tensors
// (to resume) is allowed. MindCV's checkpoints also hold the number of updates as "updates", a
// float32 scalar (see Updates).
func (e *EMA) Tensors() ([]string, []ops.Tensor) {
	names := make([]string, len(e.params))
	for i, p := range e.params {
		names[i] = "ema." + p.Name
	}
	return names, e.ema
}

// Updates returns the number of updates so far (MindCV's "updates").
func (e *EMA) Updates() int { return e.updates }

// SetUpdates sets the number of updates, to resume (negative values count as 0).
func (e *EMA) SetUpdates(n int) { e.updates = max(n, 0) }

// Free releases the averages. The EMA must not be used afterwards.
func (e *EMA) Free() {
	for _, t := range e.ema {
		e.b.Free(t)
	}
	e.ema = nil
}
