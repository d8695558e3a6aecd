package main

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/resnext/resnext/train/metrics"
)

// plotOptions are the flags of `resnext plot`.
type plotOptions struct {
	output, title, logFormat string
	width, height, dpi       int
	titleSet                 bool
}

func newPlotCmd() *cobra.Command {
	o := plotOptions{}
	cmd := &cobra.Command{
		Use:   "plot METRICS_FILE",
		Short: "Draw the loss, learning rate and accuracy curves of a training run as a PNG",
		Long: `plot reads the metrics file a training run writes in its ckpt_save_dir (metrics.jsonl, one JSON
object a line) and draws, on one step axis, up to three panels: the training loss (each logging
interval, the epoch means, and the validation loss as points), the learning rate, and the top-1
and top-5 validation accuracy in percent. Panels without data are left out. The PNG is written
atomically, so plotting a running job's file again and again is safe.

The text keeps its size in points: a larger --dpi gives a sharper picture at the same layout
(double --width, --height and --dpi together for a picture twice as fine).`,
		Example: `  resnext plot ckpt/metrics.jsonl
  resnext plot ckpt/metrics.jsonl -o resnext50.png --width 1600 --height 1200`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			defer removeTempsOnSignal()()
			o.titleSet = cmd.Flags().Changed("title")
			return logged(o.logFormat, func(log *zap.Logger) error { return runPlot(o, args[0], log) })
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "curves.png", "the PNG to write")
	f.IntVar(&o.width, "width", metrics.DefaultPlotWidth, "width of the picture in pixels")
	f.IntVar(&o.height, "height", metrics.DefaultPlotHeight, "height of the picture in pixels")
	f.IntVar(&o.dpi, "dpi", metrics.DefaultPlotDPI, "dots per inch, which sets the size of the text in pixels")
	f.StringVar(&o.title, "title", "", `heading above the panels (default: METRICS_FILE; "" for none)`)
	f.StringVar(&o.logFormat, "log_format", "console", "log format: console or json")
	return cmd
}

func runPlot(o plotOptions, path string, log *zap.Logger) error {
	if ext := strings.ToLower(filepath.Ext(o.output)); ext != ".png" {
		return fmt.Errorf("--output %q: plot writes PNG images; give a file name ending in .png", o.output)
	}
	for _, s := range []struct {
		flag     string
		v, lo, h int
	}{
		{"--width", o.width, metrics.MinPlotWidth, metrics.MaxPlotSide},
		{"--height", o.height, metrics.MinPlotHeight, metrics.MaxPlotSide},
		{"--dpi", o.dpi, 10, 2400},
	} {
		if s.v < s.lo || s.v > s.h {
			return fmt.Errorf("%s %d: want %d to %d", s.flag, s.v, s.lo, s.h)
		}
	}
	records, err := metrics.Read(path)
	if err != nil {
		return err
	}
	if len(records) == 0 {
		return fmt.Errorf("metrics file %s holds no records: give the metrics.jsonl a training run writes in its ckpt_save_dir", path)
	}
	title := path
	if o.titleSet {
		title = o.title
	}
	if err := metrics.PlotWith(records, o.output, metrics.PlotOptions{Width: o.width, Height: o.height, DPI: o.dpi, Title: title}); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}

	lastStep := 0
	var best *metrics.Record
	for i, r := range records {
		lastStep = max(lastStep, r.Step)
		if r.Kind == metrics.KindEval && r.Top1 != nil && !math.IsNaN(*r.Top1) && (best == nil || *r.Top1 > *best.Top1) {
			best = &records[i]
		}
	}
	fields := []zap.Field{zap.String("metrics", path), zap.String("output", o.output),
		zap.Int("records", len(records)), zap.Int("last_step", lastStep)}
	if best != nil {
		fields = append(fields, zap.Float64("best_top1", *best.Top1), zap.Int("best_epoch", best.Epoch))
	}
	log.Info("plotted", fields...)
	return nil
}
