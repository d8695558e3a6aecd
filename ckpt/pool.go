package ckpt

import (
	"fmt"

	"github.com/resnext/resnext/nn"
)

// PoolPaddingSource says how a padding style was decided.
type PoolPaddingSource string

const (
	// FromMetadata: the checkpoint records the style (metadata key pool_padding).
	FromMetadata PoolPaddingSource = "metadata"
	// FromNames: inferred from the naming convention (MindCV names: same; torchvision: symmetric).
	FromNames PoolPaddingSource = "names"
	// FromDefault: nothing tells, so MindCV's style, which this project reproduces, is assumed.
	FromDefault PoolPaddingSource = "default"
)

// PoolPaddingChoice is a padding style and how it was decided.
type PoolPaddingChoice struct {
	// Style is the padding style.
	Style nn.PoolPadding
	// Source is where it comes from.
	Source PoolPaddingSource
	// Reason explains the choice in a sentence, for logs.
	Reason string
}

// String is Reason, for logs.
func (p PoolPaddingChoice) String() string { return p.Reason }

// PoolPadding returns the max-pool padding style the checkpoint's weights go with and how it was
// decided: the metadata's pool_padding when there is one, else the naming convention (MindCV's
// names mean "same", torchvision's and timm's "symmetric"), else "same". A command line can log
// the choice and let a flag override it. An invalid recorded value, or names of both conventions,
// are errors.
func (c *Checkpoint) PoolPadding() (PoolPaddingChoice, error) {
	if v, ok := c.Metadata[MetaPoolPadding]; ok {
		style, err := nn.ParsePoolPadding(v)
		if err != nil {
			return PoolPaddingChoice{}, fmt.Errorf("ckpt %s: metadata %s: %w", c.where(), MetaPoolPadding, err)
		}
		return PoolPaddingChoice{style, FromMetadata,
			fmt.Sprintf("max-pool padding %q, as the checkpoint's metadata records", style)}, nil
	}
	naming, err := c.Naming()
	if err != nil {
		return PoolPaddingChoice{}, err
	}
	switch naming {
	case NamingMindCV:
		return PoolPaddingChoice{nn.PoolSame, FromNames,
			`max-pool padding "same": the checkpoint records none, and its names are MindCV's`}, nil
	case NamingTorch:
		return PoolPaddingChoice{nn.PoolSymmetric, FromNames,
			`max-pool padding "symmetric": the checkpoint records none, and its names are torchvision's`}, nil
	}
	return PoolPaddingChoice{nn.PoolSame, FromDefault,
		`max-pool padding "same" (MindCV's) by default: the checkpoint records none, and its names do not tell MindCV's from torchvision's`}, nil
}

// SetPoolPadding records the padding style in the metadata.
func (c *Checkpoint) SetPoolPadding(style nn.PoolPadding) {
	if c.Metadata == nil {
		c.Metadata = map[string]string{}
	}
	c.Metadata[MetaPoolPadding] = string(style)
}

// FromSetting is the source of a style a setting (a flag or a configuration key) chose.
const FromSetting PoolPaddingSource = "setting"

// ChoosePoolPadding is the padding style a setting called name (a flag such as --pool_padding, or
// a configuration key) asks for: "auto" or "" follows the checkpoint (PoolPadding); "same" or
// "symmetric" overrides it. An invalid setting is an error naming it.
func (c *Checkpoint) ChoosePoolPadding(setting, name string) (PoolPaddingChoice, error) {
	if setting == "" || setting == "auto" {
		return c.PoolPadding()
	}
	style, err := nn.ParsePoolPadding(setting)
	if err != nil {
		return PoolPaddingChoice{}, fmt.Errorf("%s: %w (or auto)", name, err)
	}
	return PoolPaddingChoice{style, FromSetting, fmt.Sprintf("max-pool padding %q from %s", style, name)}, nil
}
