// Package fashionmnist embeds a small real data set: the first 2000 training and 500 test images of
// Fashion-MNIST (28x28 grey-scale, 10 classes), so the project runs end to end with no download.
// The full set reads with data.LoadMNIST (Debian ships it in dataset-fashion-mnist, under
// /usr/share/datasets/fashion-mnist).
package fashionmnist

import (
	"embed"
	"fmt"

	"github.com/resnext/resnext/data"
)

//go:embed sample/*.gz
var sample embed.FS

// Classes are the label names, by label index.
var Classes = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// Mean and Std normalise pixels on the 0-255 scale: the training set's statistics (0.2860 and
// 0.3530 on the 0-1 scale).
const (
	Mean = 0.2860 * 255
	Std  = 0.3530 * 255
)

// DefaultDir is where Debian's dataset-fashion-mnist package installs the full set.
const DefaultDir = "/usr/share/datasets/fashion-mnist"

// Sample returns split "train" (2000 images) or "val"/"test" (500 images) of the embedded sample.
func Sample(split string) (*data.Images, error) {
	return data.LoadMNISTFS(sample, "sample", split, Classes)
}

// Load reads split of the full Fashion-MNIST set from dir.
func Load(dir, split string) (*data.Images, error) {
	s, err := data.LoadMNIST(dir, split, Classes)
	if err != nil {
		return nil, fmt.Errorf("fashion-mnist: %w", err)
	}
	return s, nil
}
