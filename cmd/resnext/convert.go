package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/resnext/resnext/ckpt"
	"github.com/resnext/resnext/nn"
)

// convertOptions are the flags of `resnext convert`.
type convertOptions struct {
	naming, poolPadding, logFormat string
	sliceBytes                     int
}

func newConvertCmd() *cobra.Command {
	o := convertOptions{}
	cmd := &cobra.Command{
		Use:   "convert IN OUT",
		Short: "Convert weights between MindSpore .ckpt, .safetensors and PyTorch .pth (read only)",
		Long: `convert reads IN (.ckpt, .safetensors, .pth/.pt/.bin) and writes OUT (.ckpt or .safetensors,
by extension, atomically), renaming the tensors to MindCV's names (default) or to torchvision's
(--naming torchvision). Optimizer state in a training checkpoint (moments.*, global_step, ...) is
carried over. The max-pool padding the weights go with is recorded in OUT where the format allows
(safetensors metadata; a string entry in .ckpt): as IN records it or its names imply, or as
--pool_padding says.`,
		Example: `  resnext convert resnext50_32x4d.pth resnext50_32x4d.ckpt
  resnext convert resnext50.ckpt resnext50.safetensors --naming torchvision`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			defer removeTempsOnSignal()()
			return logged(o.logFormat, func(log *zap.Logger) error { return runConvert(o, args[0], args[1], log) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.naming, "naming", "mindcv", "tensor names in OUT: mindcv or torchvision")
	f.StringVar(&o.poolPadding, "pool_padding", "auto", "max-pool padding to record: same, symmetric or auto (from IN)")
	f.IntVar(&o.sliceBytes, "slice_bytes", 0, "split .ckpt tensors larger than this many bytes into slices, as newer MindSpore does (0: never)")
	f.StringVar(&o.logFormat, "log_format", "console", "log format: console or json")
	return cmd
}

func runConvert(o convertOptions, in, out string, log *zap.Logger) error {
	var to ckpt.Naming
	switch o.naming {
	case "mindcv":
		to = ckpt.NamingMindCV
	case "torchvision":
		to = ckpt.NamingTorch
	default:
		return fmt.Errorf("--naming %q: want mindcv or torchvision", o.naming)
	}
	if o.sliceBytes < 0 {
		return fmt.Errorf("--slice_bytes %d: want 0 or more", o.sliceBytes)
	}
	c, err := ckpt.Read(in)
	if err != nil {
		return err
	}
	choice, err := c.PoolPadding()
	if err != nil {
		return err
	}
	if o.poolPadding != "auto" {
		if choice.Style, err = nn.ParsePoolPadding(o.poolPadding); err != nil {
			return fmt.Errorf("--pool_padding: %w (or auto)", err)
		}
		choice.Reason = fmt.Sprintf("max-pool padding %q from --pool_padding", choice.Style)
	}
	from, err := c.Naming()
	if err != nil {
		return err
	}
	if err := c.ConvertNames(to); err != nil {
		return err
	}
	c.SetPoolPadding(choice.Style)
	if err := c.WriteWith(out, ckpt.WriteOptions{SliceBytes: o.sliceBytes}); err != nil {
		return err
	}
	log.Info("converted", zap.String("in", in), zap.String("out", out), zap.String("from", from.String()),
		zap.String("to", to.String()), zap.Int("tensors", len(c.Tensors)), zap.Int("extra", len(c.Extra)),
		zap.String("pool_padding", choice.Reason))
	return nil
}
