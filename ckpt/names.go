package ckpt

import (
	"fmt"
	"strings"

	"github.com/resnext/resnext/ckpt/internal/quote"
)

// Naming is a parameter naming convention.
type Naming int

const (
	// NamingNeutral means the names do not tell: they are the same in both conventions (such as
	// convolution weights), or there are none.
	NamingNeutral Naming = iota
	// NamingMindCV is MindCV's: bnX.gamma/beta/moving_mean/moving_variance, down_sample,
	// classifier.
	NamingMindCV
	// NamingTorch is torchvision's and timm's: bnX.weight/bias/running_mean/running_var
	// (and num_batches_tracked), downsample, fc.
	NamingTorch
)

// String names the convention: "neutral", "mindcv" or "torchvision".
func (n Naming) String() string {
	switch n {
	case NamingNeutral:
		return "neutral"
	case NamingMindCV:
		return "mindcv"
	case NamingTorch:
		return "torchvision"
	}
	return fmt.Sprintf("Naming(%d)", int(n))
}

// Leaf names of batch-norm tensors in each convention, in the same order.
var (
	mindcvBN = []string{"gamma", "beta", "moving_mean", "moving_variance"}
	torchBN  = []string{"weight", "bias", "running_mean", "running_var"}
)

// Renamed modules: MindCV's name and torchvision's.
var modules = [][2]string{{"down_sample", "downsample"}, {"classifier", "fc"}}

// numBatchesTracked is torchvision's batch-norm step counter, which MindCV does not have.
const numBatchesTracked = "num_batches_tracked"

// splitName returns a name's module path and its last component ("layer1.0.bn1", "gamma").
func splitName(name string) (module, leaf string) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return "", name
	}
	return name[:i], name[i+1:]
}

// isTorchBNModule reports whether a module path is a batch norm by ResNet's naming: bn1, bn2, bn3 or
// downsample.1.
func isTorchBNModule(module string) bool {
	_, last := splitName(module)
	if module == "downsample.1" || strings.HasSuffix(module, ".downsample.1") {
		return true
	}
	if !strings.HasPrefix(last, "bn") {
		return false
	}
	for _, r := range last[2:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// mapModules renames module components (not the leaf) with the pairs in modules, from index
// `from` to index 1-from; the classifier is renamed only at the top level, where ResNeXt has it.
func mapModules(module string, from int) string {
	if module == "" {
		return ""
	}
	parts := strings.Split(module, ".")
	for i, p := range parts {
		for _, m := range modules {
			if p != m[from] {
				continue
			}
			if m[0] == "classifier" && (i != 0 || len(parts) != 1) {
				continue
			}
			parts[i] = m[1-from]
		}
	}
	return strings.Join(parts, ".")
}

func join(module, leaf string) string {
	if module == "" {
		return leaf
	}
	return module + "." + leaf
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// TorchNames maps MindCV names to torchvision/timm names: gamma, beta, moving_mean and
// moving_variance become weight, bias, running_mean and running_var, down_sample becomes
// downsample, and the top-level classifier becomes fc. Other names are unchanged.
func TorchNames(names []string) []string {
	out := make([]string, len(names))
	for i, name := range names {
		module, leaf := splitName(name)
		if j := indexOf(mindcvBN, leaf); j >= 0 {
			leaf = torchBN[j]
		}
		out[i] = join(mapModules(module, 0), leaf)
	}
	return out
}

// MindCVNames maps torchvision/timm names to MindCV names: a batch norm's weight, bias,
// running_mean and running_var become gamma, beta, moving_mean and moving_variance, downsample
// becomes down_sample, and the top-level fc becomes classifier. A module is a batch norm when the
// list holds its running statistics or when ResNet's naming says so (bn1, bn2, bn3, downsample.1).
// num_batches_tracked, which MindCV does not have, maps to "". When every name starts with
// "module." (a model saved from DataParallel), that prefix is removed first.
func MindCVNames(names []string) []string {
	strip := len(names) > 0
	for _, n := range names {
		strip = strip && strings.HasPrefix(n, "module.")
	}
	bn := map[string]bool{}
	for _, n := range names {
		if strip {
			n = strings.TrimPrefix(n, "module.")
		}
		if module, leaf := splitName(n); leaf == "running_mean" || leaf == "running_var" || leaf == numBatchesTracked {
			bn[module] = true
		}
	}
	out := make([]string, len(names))
	for i, name := range names {
		if strip {
			name = strings.TrimPrefix(name, "module.")
		}
		module, leaf := splitName(name)
		if leaf == numBatchesTracked {
			continue
		}
		if j := indexOf(torchBN, leaf); j >= 0 && (bn[module] || isTorchBNModule(module)) {
			leaf = mindcvBN[j]
		}
		out[i] = join(mapModules(module, 1), leaf)
	}
	return out
}

// marker returns the convention a single name belongs to, or NamingNeutral when it is spelled the
// same in both.
func marker(name string) Naming {
	module, leaf := splitName(name)
	switch {
	case indexOf(mindcvBN, leaf) >= 0:
		return NamingMindCV
	case leaf == "running_mean" || leaf == "running_var" || leaf == numBatchesTracked:
		return NamingTorch
	case (leaf == "weight" || leaf == "bias") && isTorchBNModule(module):
		return NamingTorch
	}
	for _, p := range strings.Split(module, ".") {
		switch p {
		case "down_sample":
			return NamingMindCV
		case "downsample":
			return NamingTorch
		}
	}
	switch module {
	case "classifier":
		return NamingMindCV
	case "fc":
		return NamingTorch
	}
	return NamingNeutral
}

// DetectNaming returns the naming convention of a list of model tensor names: MindCV's when some
// name is MindCV's own, torchvision's when some is torchvision's own, neutral when no name tells.
// Names of both conventions in one list are an error that quotes one of each.
func DetectNaming(names []string) (Naming, error) {
	var mindcv, torch string
	for _, n := range names {
		switch marker(strings.TrimPrefix(n, "module.")) {
		case NamingMindCV:
			if mindcv == "" {
				mindcv = n
			}
		case NamingTorch:
			if torch == "" {
				torch = n
			}
		}
	}
	switch {
	case mindcv != "" && torch != "":
		return NamingNeutral, fmt.Errorf("the names mix MindCV's convention (%s) and torchvision's (%s)", quote.String(mindcv), quote.String(torch))
	case mindcv != "":
		return NamingMindCV, nil
	case torch != "":
		return NamingTorch, nil
	}
	return NamingNeutral, nil
}

// names returns the names of ts.
func names(ts []Tensor) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

// Naming returns the naming convention of the checkpoint's model tensors (see DetectNaming).
func (c *Checkpoint) Naming() (Naming, error) {
	n, err := DetectNaming(names(c.Tensors))
	if err != nil {
		return n, fmt.Errorf("ckpt %s: %w", c.where(), err)
	}
	return n, nil
}

// ConvertNames renames the model tensors to the given convention (NamingMindCV or NamingTorch),
// dropping num_batches_tracked when converting to MindCV's. Checkpoints already in that convention,
// or neutral ones, are left as they are; Extra is never renamed. Two tensors that would end up
// with one name are an error.
func (c *Checkpoint) ConvertNames(to Naming) error {
	if to != NamingMindCV && to != NamingTorch {
		return fmt.Errorf("ckpt %s: cannot convert names to the %v convention", c.where(), to)
	}
	from, err := c.Naming()
	if err != nil {
		return err
	}
	if from == to || from == NamingNeutral && to == NamingTorch {
		return nil
	}
	var mapped []string
	if to == NamingMindCV {
		mapped = MindCVNames(names(c.Tensors))
	} else {
		mapped = TorchNames(names(c.Tensors))
	}
	out := make([]Tensor, 0, len(c.Tensors))
	seen := map[string]string{}
	for i, t := range c.Tensors {
		if mapped[i] == "" {
			continue
		}
		if prev, dup := seen[mapped[i]]; dup {
			return fmt.Errorf("ckpt %s: tensors %s and %s both map to %s", c.where(), quote.String(prev), quote.String(t.Name),
				quote.String(mapped[i]))
		}
		seen[mapped[i]] = t.Name
		t.Name = mapped[i]
		out = append(out, t)
	}
	c.Tensors = out
	return nil
}
