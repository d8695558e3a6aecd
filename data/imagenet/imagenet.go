// Package imagenet holds facts about the ImageNet-1k classification set that the tools need: the
// class names in label order and the normalisation MindCV applies.
package imagenet

import (
	_ "embed"
	"strings"
)

//go:embed classes.txt
var classesTxt string

// Classes are the 1000 class names, indexed by label (the order of the sorted WordNet ids, as
// ImageFolder assigns labels to the class folders). classes.txt holds the short names torchvision
// uses (torchvision.models._meta._IMAGENET_CATEGORIES), one per line.
var Classes = strings.Split(strings.TrimSuffix(classesTxt, "\n"), "\n")

// Mean and Std normalise pixels on the 0-255 scale, per RGB channel: MindCV's (and torchvision's
// 0.485/0.456/0.406, 0.229/0.224/0.225 times 255).
var (
	Mean = [3]float32{123.675, 116.28, 103.53}
	Std  = [3]float32{58.395, 57.12, 57.375}
)
