package train

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	"github.com/resnext/resnext/ckpt"
	"github.com/resnext/resnext/ckpt/safetensors"
	"github.com/resnext/resnext/ops"
)

// The names of the training state a checkpoint holds besides the model's tensors. The optimizer's
// are MindSpore's (a Momentum optimizer saved with its train network: moments.<param>, momentum,
// learning_rate as the whole per-step list, global_step as int32 [1]); scale_sense is the loss
// scale of MindSpore's TrainOneStepWithLossScaleCell, current_iterator_step and
// last_overflow_iterator_step those of its DynamicLossScaleUpdateCell, ema.<param> and updates
// MindCV's TrainStep with ema, epoch_num and step_num what MindSpore's ModelCheckpoint appends.
const (
	keyMomentum     = "momentum"
	keyLearningRate = "learning_rate"
	keyGlobalStep   = "global_step"
	keyScaleSense   = "scale_sense"
	keyIterStep     = "current_iterator_step"
	keyOverflowStep = "last_overflow_iterator_step"
	keyEMAUpdates   = "updates"
	keyEpochNum     = "epoch_num"
	keyStepNum      = "step_num"
	metaClassNames  = "class_names"
	metaModel       = "model"
)

// scalarF32 is a float32 entry of shape [].
func scalarF32(name string, v float64) ckpt.Tensor {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, math.Float32bits(float32(v)))
	return ckpt.Tensor{Name: name, DType: safetensors.F32, Shape: ops.Shape{}, Data: b}
}

// int32Entry is an int32 entry of the given shape ([] or [1]).
func int32Entry(name string, v int, shape ops.Shape) ckpt.Tensor {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, uint32(int32(v)))
	return ckpt.Tensor{Name: name, DType: safetensors.I32, Shape: shape, Data: b}
}

// listF32 is a float32 vector entry.
func listF32(name string, v []float64) ckpt.Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(x)))
	}
	return ckpt.Tensor{Name: name, DType: safetensors.F32, Shape: ops.Shape{len(v)}, Data: b}
}

// deviceEntries copies tensors from the backend into float32 entries with the given names.
func deviceEntries(b ops.Backend, names []string, ts []ops.Tensor) ([]ckpt.Tensor, error) {
	out := make([]ckpt.Tensor, len(ts))
	for i, t := range ts {
		v, err := ops.ToFloat32(b, t)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", names[i], err)
		}
		out[i] = ckpt.Tensor{Name: names[i], DType: safetensors.F32, Shape: t.Shape().Clone(), Data: append([]byte(nil), ops.Bytes(v)...)}
	}
	return out, nil
}

// entryNumber reads a one-element numeric entry (a scalar or shape [1]) of the checkpoint's extra
// entries, in any of the dtypes MindSpore writes for it.
func entryNumber(c *ckpt.Checkpoint, name string) (float64, bool, error) {
	t, ok := c.ExtraTensor(name)
	if !ok {
		return 0, false, nil
	}
	if ops.Shape(t.Shape).Numel() != 1 {
		return 0, true, fmt.Errorf("ckpt %s: %s has shape %v: want one value", c.Path, name, t.Shape)
	}
	switch t.DType {
	case safetensors.F32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(t.Data))), true, nil
	case safetensors.F64:
		return math.Float64frombits(binary.LittleEndian.Uint64(t.Data)), true, nil
	case safetensors.I32:
		return float64(int32(binary.LittleEndian.Uint32(t.Data))), true, nil
	case safetensors.I64:
		return float64(int64(binary.LittleEndian.Uint64(t.Data))), true, nil
	}
	return 0, true, fmt.Errorf("ckpt %s: %s is %s: want a float or integer", c.Path, name, t.DType)
}

// loadEntries writes the checkpoint's extra entries called names[i] into ts[i] (float32 tensors
// of the same shapes). Every entry is checked before anything is written; missing ones are listed
// in the error.
func loadEntries(b ops.Backend, c *ckpt.Checkpoint, names []string, ts []ops.Tensor) error {
	data := make([][]byte, len(ts))
	var missing []string
	for i, name := range names {
		e, ok := c.ExtraTensor(name)
		if !ok {
			missing = append(missing, name)
			continue
		}
		if !ops.Shape(e.Shape).Equal(ts[i].Shape()) {
			return fmt.Errorf("ckpt %s: %s has shape %v: the model's is %v", c.Path, name, e.Shape, ts[i].Shape())
		}
		if e.DType != safetensors.F32 {
			return fmt.Errorf("ckpt %s: %s is %s: want F32", c.Path, name, e.DType)
		}
		data[i] = e.Data
	}
	if len(missing) > 0 {
		more := ""
		if len(missing) > 5 {
			more = fmt.Sprintf(" and %d more", len(missing)-5)
			missing = missing[:5]
		}
		return fmt.Errorf("ckpt %s holds no %v%s", c.Path, missing, more)
	}
	for i, t := range ts {
		b.Write(t, data[i])
	}
	return nil
}

// ClassNames returns the class names a checkpoint records (written by train and finetune), or nil.
func ClassNames(c *ckpt.Checkpoint) ([]string, error) {
	s, ok := c.Metadata[metaClassNames]
	if !ok || s == "" {
		return nil, nil
	}
	var names []string
	if err := json.Unmarshal([]byte(s), &names); err != nil {
		return nil, fmt.Errorf("ckpt %s: %s is not a JSON list of strings: %w", c.Path, metaClassNames, err)
	}
	return names, nil
}
