package main

import (
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"

	"github.com/resnext/resnext/data"
	"github.com/resnext/resnext/train/config"
)

// dataBenchOptions are the flags of `resnext bench --mode data`.
type dataBenchOptions struct {
	dataDir, split, jpegDecoder string
	workers, prefetch           int
}

// maxPrefetch limits --prefetch: each batch made ready ahead is held in memory.
const maxPrefetch = 64

// validateData checks the flags of the data mode.
func (o benchOptions) validateData() error {
	switch {
	case o.data.dataDir == "":
		return fmt.Errorf("--mode data: give --data_dir, an image folder laid out as data_dir/<split>/<class>/<image>")
	case o.data.split == "":
		return fmt.Errorf("--split: give train or val (the sub-folder of --data_dir, and the transform)")
	}
	if err := firstErr(
		o.validateCommon(),
		intFlag("num_parallel_workers", o.data.workers, 1, config.MaxWorkers, "decoding goroutines"),
		intFlag("prefetch", o.data.prefetch, 0, maxPrefetch, "batches ahead (0: the default depth)"),
	); err != nil {
		return err
	}
	// The batches in flight: the one consumed and those made ready ahead (2 by default), of
	// float32 RGB images.
	batches := float64(max(o.data.prefetch, 2) + 1)
	need, have := batches*4*3*float64(o.batchSize)*float64(o.imageSize)*float64(o.imageSize), totalMemory()
	if have > 0 && need > have {
		return fmt.Errorf("--batch_size %d with --image_size %d: %.0f batches in flight need about %.1f GiB, more than this machine's %.1f GiB: lower --batch_size or --image_size",
			o.batchSize, o.imageSize, batches, need/(1<<30), have/(1<<30))
	}
	return nil
}

// benchData times the input pipeline: batches of the folder's split through MindCV's train (split
// train) or eval transform, made by the parallel loader, consumed as fast as they come.
func benchData(o benchOptions, log *zap.Logger) (benchResult, error) {
	if err := o.validateData(); err != nil {
		return benchResult{}, err
	}
	train := o.data.split == "train"
	opt := data.DefaultOptions()
	opt.DataDir, opt.Split, opt.Train, opt.ImageSize, opt.JPEGDecoder = o.data.dataDir, o.data.split, train, o.imageSize, o.data.jpegDecoder
	ds, err := data.Open(opt)
	if err != nil {
		return benchResult{}, err
	}
	decoder := ""
	if f, ok := ds.(interface{ JPEGDecoder() string }); ok {
		decoder = f.JPEGDecoder()
	}
	loader, err := data.NewLoader(ds, data.LoaderOptions{BatchSize: o.batchSize, Shuffle: train, DropRemainder: train,
		Seed: benchSeed, Workers: o.data.workers, Prefetch: o.data.prefetch,
		OnSkip: func(name string, err error) {
			log.Warn("unreadable image skipped", zap.String("file", name), zap.Error(err))
		}})
	if err != nil {
		return benchResult{}, err
	}
	defer loader.Close()
	res := benchResult{Mode: "data", Split: o.data.split, Workers: o.data.workers, Decoder: decoder, BatchSize: o.batchSize,
		ImageSize: o.imageSize, Warmup: o.warmup, Steps: o.steps, Images: ds.Len()}
	log.Info("bench", zap.String("mode", "data"), zap.String("data_dir", o.data.dataDir), zap.String("split", o.data.split),
		zap.Int("images", ds.Len()), zap.Int("batch_size", o.batchSize), zap.Int("num_parallel_workers", o.data.workers),
		zap.String("decoder", decoder), zap.Int("warmup", o.warmup), zap.Int("steps", o.steps))

	var (
		times  = make([]time.Duration, 0, o.steps)
		images int
		before runtime.MemStats
		epoch  int
		timing bool
		it     = loader.Epoch(0, 0)
	)
	defer func() { it.Close() }()
	start := time.Now()
	for i := 0; i < o.warmup+o.steps; {
		if i == o.warmup && !timing {
			timing = true
			stop, err := o.startTimed(&before)
			if err != nil {
				return res, err
			}
			defer stop()
			start = time.Now()
		}
		b, ok := it.Next()
		if !ok {
			if err := it.Err(); err != nil {
				return res, err
			}
			it.Close()
			epoch++
			it = loader.Epoch(epoch, 0)
			continue
		}
		now := time.Now()
		if i >= o.warmup {
			times = append(times, now.Sub(start))
			images += b.N
		}
		start = now
		loader.Release(b)
		i++
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	it.Close() // the batches in flight finish: their skips are counted too
	res.setTimes(times, images)
	res.HeapAllocsPerStep = sig6(float64(after.Mallocs-before.Mallocs) / float64(o.steps))
	res.HeapBytesPerStep = sig6(float64(after.TotalAlloc-before.TotalAlloc) / float64(o.steps))
	res.PeakRSSBytes = peakRSS()
	res.Skipped = int(loader.Skipped())
	log.Info("done", zap.Float64("img_per_s", res.ImgPerS), zap.Float64("ms_per_batch", res.MsPerStep),
		zap.Int64("peak_rss_bytes", res.PeakRSSBytes), zap.Int("skipped", res.Skipped))
	return res, nil
}

// printDataBench writes a data-mode result as aligned lines.
func printDataBench(out io.Writer, r benchResult) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "mode\tdata (%s split, %d images)\n", r.Split, r.Images)
	fmt.Fprintf(tw, "decoder\t%s\n", r.Decoder)
	fmt.Fprintf(tw, "batch\t%d x 3x%dx%d, %d workers\n", r.BatchSize, r.ImageSize, r.ImageSize, r.Workers)
	fmt.Fprintf(tw, "batches\t%d timed after %d warm-up\n", r.Steps, r.Warmup)
	fmt.Fprintf(tw, "throughput\t%.2f img/s\n", r.ImgPerS)
	fmt.Fprintf(tw, "ms/batch\tmedian %.3f, mean %.3f, min %.3f, max %.3f\n", r.MsPerStepMedian, r.MsPerStep, r.MsPerStepMin, r.MsPerStepMax)
	fmt.Fprintf(tw, "peak RSS\t%.1f MiB (%d bytes)\n", float64(r.PeakRSSBytes)/(1<<20), r.PeakRSSBytes)
	fmt.Fprintf(tw, "heap/batch\t%.0f allocations, %.0f bytes\n", r.HeapAllocsPerStep, r.HeapBytesPerStep)
	if r.Skipped > 0 {
		fmt.Fprintf(tw, "skipped\t%d unreadable images\n", r.Skipped)
	}
	return tw.Flush()
}
