package ckpt

import "strings"

// modelLeaves are the last name components of a model's tensors in either naming convention.
var modelLeaves = map[string]bool{
	"weight": true, "bias": true,
	"gamma": true, "beta": true, "moving_mean": true, "moving_variance": true,
	"running_mean": true, "running_var": true, "num_batches_tracked": true,
}

// optimizerPrefixes are the first name components under which MindSpore's optimizers keep their
// per-parameter state: Momentum's moments, Adam's moment1/moment2, AdamWeightDecay's adam_m/adam_v,
// Adagrad's accum, RMSProp's moment/mean_square/mean_grad; and "ema.", under which MindCV's train step
// keeps the moving average of the weights.
var optimizerPrefixes = []string{
	"moments.", "ema.", "moment1.", "moment2.", "adam_m.", "adam_v.", "accum.", "moment.", "mean_square.", "mean_grad.",
}

// IsModelTensor reports whether name is one of a model's own tensors rather than optimizer state or
// another entry of a training checkpoint: its last component is a parameter or statistic
// (weight, bias, gamma, beta, moving_mean, moving_variance, running_mean, running_var,
// num_batches_tracked) and it is not under an optimizer's prefix (moments., moment1., adam_m., ...).
// So conv1.weight and bn1.moving_mean are model tensors; moments.conv1.weight, ema.conv1.weight, momentum,
// learning_rate, global_step, scale_sense and random_op are not.
func IsModelTensor(name string) bool {
	for _, p := range optimizerPrefixes {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	i := strings.LastIndexByte(name, '.')
	return i > 0 && modelLeaves[name[i+1:]]
}
