// Package configs embeds the YAML configurations of this folder, so that commands run their
// defaults (the Fashion-MNIST recipe, the fine-tuning recipe) with no file on disk.
package configs

import "embed"

//go:embed cpu/*.yaml finetune/*.yaml resnext/*.yaml
var files embed.FS

// File returns the content of the embedded configuration at name, a path relative to this folder
// such as "cpu/fashion_mnist.yaml". It panics on a name that is not embedded: names are constants
// of the program.
func File(name string) []byte {
	b, err := files.ReadFile(name)
	if err != nil {
		panic("configs: " + err.Error())
	}
	return b
}
