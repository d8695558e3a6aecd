package ckpt

import "testing"

func TestIsModelTensor(t *testing.T) {
	for name, want := range map[string]bool{
		"conv1.weight":                           true,
		"bn1.gamma":                              true,
		"layer1.0.down_sample.1.moving_variance": true,
		"layer1.0.bn1.running_mean":              true,
		"bn1.num_batches_tracked":                true,
		"classifier.bias":                        true,
		"fc.weight":                              true,
		"moments.conv1.weight":                   false,
		"moments.bn1.gamma":                      false,
		"ema.layer1.0.bn1.moving_mean":           false,
		"adam_m.fc.weight":                       false,
		"moment1.conv1.weight":                   false,
		"momentum":                               false,
		"learning_rate":                          false,
		"global_step":                            false,
		"scale_sense":                            false,
		"random_op":                              false,
		"epoch_num":                              false,
		"weight":                                 false,
		"":                                       false,
	} {
		if got := IsModelTensor(name); got != want {
			t.Errorf("IsModelTensor(%q) = %v, want %v", name, got, want)
		}
	}
}
