// Package ckpt is the format-neutral checkpoint layer: it reads and writes model weights as MindSpore
// .ckpt and safetensors files and reads PyTorch .pth/.pt/.bin files, maps parameter names between
// MindCV's and torchvision/timm's conventions, keeps optimizer state apart from the weights, and
// loads a checkpoint into a model's parameters, checking every name and shape.
//
// A Checkpoint is ordered named host tensors (the safetensors.Tensor type the format packages share)
// plus string metadata. Read picks the format from the file's extension and checks it against the
// file's first bytes, so a file with the wrong extension gives an error saying what it really is.
//
// # Weights and other entries
//
// Read sorts entries into Tensors, the model's own tensors (weights, biases, BatchNorm parameters and
// statistics), and Extra, everything else: the optimizer state of a training checkpoint
// (moments.<param>, momentum, learning_rate, global_step), MindSpore's random_op and any other
// entry. IsModelTensor states the rule. Load reads only Tensors, so optimizer state is never taken
// for weights; a training engine that resumes can load Extra the same way (Load on a Checkpoint
// whose Tensors are another's Extra).
//
// # Names
//
// MindCV and torchvision/timm name the same ResNeXt tensors differently (bnX.gamma/beta/moving_mean/
// moving_variance against bnX.weight/bias/running_mean/running_var, down_sample against downsample,
// classifier against fc; torchvision also stores num_batches_tracked, which carries no weight).
// DetectNaming tells the convention of a file from its names; MindCVNames and TorchNames convert
// lists of names; Load converts torchvision/timm names by itself; Save writes MindCV names.
//
// # Max-pool padding
//
// MindCV's stem max pool pads "same" (bottom/right), torchvision's symmetrically, and weights go with
// the style they were trained with. Save records the style in the metadata (safetensors'
// __metadata__, string entries in a .ckpt); Checkpoint.PoolPadding reads it back or, when absent,
// infers it from the naming convention, and says which it did.
package ckpt

import (
	"github.com/resnext/resnext/ckpt/safetensors"
)

// Tensor is one named host array: Name, DType ("F32", "F16", "BF16", "F64", "I32", "I64", "U8",
// "BOOL", ...), Shape and little-endian C-order Data. It is the type every format package uses.
type Tensor = safetensors.Tensor

// Metadata keys this package reads and writes.
const (
	// MetaFormat is the safetensors convention for the framework the tensors are laid out for:
	// "pt" for torchvision/timm names, "ms" for MindCV names.
	MetaFormat = "format"
	// MetaPoolPadding records the max-pool padding style of the weights: "same" or "symmetric".
	MetaPoolPadding = "pool_padding"
)

// Checkpoint is a set of named host tensors with metadata, as read from or written to a file.
type Checkpoint struct {
	// Path is the file the checkpoint was read from ("" for one built in memory); errors name it.
	Path string
	// Format is the format it was read in ("" for one built in memory).
	Format Format
	// Tensors are the model's tensors, in file order (sorted by name for safetensors files, whose
	// header has no order).
	Tensors []Tensor
	// Extra holds every other entry, in file order: optimizer state and the like.
	Extra []Tensor
	// Metadata is free-form string metadata (safetensors' __metadata__, a .ckpt's string entries).
	Metadata map[string]string
}

// New returns a checkpoint holding the given tensors, each sorted into Tensors or Extra by
// IsModelTensor.
func New(tensors ...Tensor) *Checkpoint {
	c := &Checkpoint{Metadata: map[string]string{}}
	for _, t := range tensors {
		c.Add(t)
	}
	return c
}

// Add appends t to Tensors when IsModelTensor(t.Name), else to Extra.
func (c *Checkpoint) Add(t Tensor) {
	if IsModelTensor(t.Name) {
		c.Tensors = append(c.Tensors, t)
	} else {
		c.Extra = append(c.Extra, t)
	}
}

// Tensor returns the model tensor called name.
func (c *Checkpoint) Tensor(name string) (Tensor, bool) { return find(c.Tensors, name) }

// ExtraTensor returns the extra entry called name (such as "global_step").
func (c *Checkpoint) ExtraTensor(name string) (Tensor, bool) { return find(c.Extra, name) }

func find(ts []Tensor, name string) (Tensor, bool) {
	for _, t := range ts {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// where names the checkpoint in errors.
func (c *Checkpoint) where() string {
	if c.Path != "" {
		return c.Path
	}
	return "(in memory)"
}
