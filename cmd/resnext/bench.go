package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/resnext/resnext/dist"
	"github.com/resnext/resnext/dist/launch"
	"github.com/resnext/resnext/dist/tcp"
	"github.com/resnext/resnext/nn"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/resnext"
	"github.com/resnext/resnext/train/optim"
)

// benchOptions are the flags of `resnext bench`.
type benchOptions struct {
	model, mode, logFormat              string
	batchSize, steps, warmup, imageSize int
	json                                bool
	cpuProfile                          string
	device                              deviceOptions
	// graphCapture records one step and replays it for the timed ones, where the backend can;
	// executorCache and fusedOptimizer are the Ascend backend's host-time measures (Options).
	graphCapture, executorCache, fusedOptimizer bool
	data                                        dataBenchOptions
	progressEvery                               time.Duration // 0: benchProgressEvery
	// distribute times a data-parallel step under a launcher: the gradients averaged over the
	// job's workers in buckets of bucketCapMB while the backward pass goes on.
	distribute  bool
	bucketCapMB float64
}

// The fixed parts of a benchmark run: the seed of the weights and data, and MindCV's recipe for
// the training step (label smoothing 0.1, momentum 0.9, weight decay 1e-4). The learning rate is
// small so that many steps on random labels stay finite.
const (
	benchSeed          = 1
	benchSmoothing     = 0.1
	benchMomentum      = 0.9
	benchWeightDecay   = 1e-4
	benchLR            = 0.01
	benchProgressEvery = 10 * time.Second
)

func newBenchCmd() *cobra.Command {
	o := benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench --model NAME --batch_size N --mode infer|train|data --steps K",
		Short: "Measure images per second, time per step and peak memory of a model or of the input pipeline",
		Long: `bench times a model on random input: a freshly initialised network (a fixed seed, no
checkpoint), a batch of standard-normal images [batch_size, channels, image_size, image_size] and
random labels.

--mode infer runs the forward pass in evaluation mode. --mode train runs a training step as MindCV
does: the forward pass in training mode, softmax cross-entropy with label smoothing 0.1, the
backward pass and a momentum SGD step (momentum 0.9, weight decay 1e-4).

The first --warmup steps are not timed (buffers are allocated, caches filled); then --steps steps
are, each ending with the backend synchronised, so that the time is the device's as well as the
host's. bench reports images per second (batch_size * steps / total time), the time per step
(median, mean, min, max), the process's peak resident memory (getrusage's ru_maxrss) and the
backend's device, as lines or, with --json, as one JSON object on standard output.

On Ascend it also reports the host time per step: the time the calls that queue a step take, from
the step's start to just before the final synchronisation. It is what the host spends per step,
which the device has to hide. Against acl/testruntime, whose kernels run only at synchronisation,
it measures the binding's own overhead.

--mode data times the input pipeline instead of a model: the images of --data_dir/--split through
MindCV's train transform (split train: random resized crop, flip, colour jitter 0.4, normalise) or
eval transform (any other split: resize to 256, centre crop 224, normalise), decoded and batched
by --num_parallel_workers goroutines, --steps batches after --warmup, epochs repeated as needed.
It reports images per second, the time per batch, peak resident memory, host allocations per batch
and which JPEG decoder ran (--jpeg_decoder auto, libjpeg-turbo or go).`,
		Example: `  resnext bench --model resnext50_32x4d --batch_size 16 --mode infer --steps 10
  resnext bench --model resnext50_32x4d --batch_size 32 --mode train --steps 20 --device_target Ascend --json
  resnext bench --mode data --data_dir /path/to/imagenet --batch_size 64 --num_parallel_workers 8 --steps 50 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return logged(o.logFormat, func(log *zap.Logger) error { return runBench(o, cmd.OutOrStdout(), log) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "resnext50_32x4d", "model to time: "+strings.Join(resnext.Variants(), ", "))
	f.IntVar(&o.batchSize, "batch_size", 16, "images per step")
	f.StringVar(&o.mode, "mode", "infer", "what a step is: infer (evaluation-mode forward), train (forward, loss, backward, SGD) or data (one batch of the input pipeline)")
	f.IntVar(&o.steps, "steps", 10, "timed steps")
	f.IntVar(&o.warmup, "warmup", 2, "untimed steps before the timed ones")
	f.IntVar(&o.imageSize, "image_size", 224, "height and width of the images")
	f.BoolVar(&o.json, "json", false, "print one JSON object instead of lines")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the timed steps to this file (read it with go tool pprof)")
	o.device.register(f)
	f.BoolVar(&o.graphCapture, "graph_capture", true, "Ascend: record one step after the warm-up and replay it for the timed steps (aclmdlRI capture; CANN 8.1 and later on 910B/910_93), falling back to running each step where the device cannot")
	f.BoolVar(&o.executorCache, "executor_cache", true, "Ascend: make each aclnn executor once per operator, shapes and attributes and replay it (false: both phases every call)")
	f.BoolVar(&o.fusedOptimizer, "fused_optimizer", true, "Ascend: run the optimizer step over parameters packed in flat buffers, a few kernels in all (false: several kernels per parameter)")
	f.StringVar(&o.data.dataDir, "data_dir", "", "--mode data: the image folder (data_dir/<split>/<class>/<image>)")
	f.StringVar(&o.data.split, "split", "train", "--mode data: the sub-folder of --data_dir; train times MindCV's train transform, any other the eval transform")
	f.IntVar(&o.data.workers, "num_parallel_workers", runtime.NumCPU(), "--mode data: decoding goroutines")
	f.IntVar(&o.data.prefetch, "prefetch", 0, "--mode data: batches made ready ahead (0: the loader's default, 2)")
	f.StringVar(&o.data.jpegDecoder, "jpeg_decoder", "auto", "--mode data: auto, libjpeg-turbo or go")
	f.StringVar(&o.logFormat, "log_format", "console", "log format: console or json")
	f.Var(wordBool{&o.distribute}, "distribute", "--mode train under a launcher (resnext msrun): average the gradients over the job's workers, as train --distribute True does")
	f.Float64Var(&o.bucketCapMB, "bucket_cap_mb", dist.DefaultBucketCapMB, "--distribute: MiB of gradients averaged at a time while backward goes on")
	return cmd
}

// benchResult is what a benchmark run measured. Times are in milliseconds.
type benchResult struct {
	Model string `json:"model,omitempty"`
	Mode  string `json:"mode"`
	// Split, Workers, Decoder, Images and Skipped describe a data-mode run.
	Split     string `json:"split,omitempty"`
	Workers   int    `json:"num_parallel_workers,omitempty"`
	Decoder   string `json:"decoder,omitempty"`
	Images    int    `json:"images,omitempty"`
	Skipped   int    `json:"skipped,omitempty"`
	Backend   string `json:"backend,omitempty"`
	Device    string `json:"device,omitempty"`
	BatchSize int    `json:"batch_size"`
	ImageSize int    `json:"image_size"`
	Warmup    int    `json:"warmup"`
	Steps     int    `json:"steps"`
	// ImgPerS is batch_size * steps / the total time of the timed steps.
	ImgPerS float64 `json:"img_per_s"`
	// MsPerStep is the mean time of a timed step; the others are the median, the fastest and the
	// slowest.
	MsPerStep       float64 `json:"ms_per_step"`
	MsPerStepMedian float64 `json:"ms_per_step_median"`
	MsPerStepMin    float64 `json:"ms_per_step_min"`
	MsPerStepMax    float64 `json:"ms_per_step_max"`
	// HostMsPerStep and HostMsPerStepMedian (Ascend only) are the mean and median time from a
	// step's start to just before its synchronisation: the time the calls that queue it take.
	HostMsPerStep       *float64 `json:"host_ms_per_step,omitempty"`
	HostMsPerStepMedian *float64 `json:"host_ms_per_step_median,omitempty"`
	// PeakRSSBytes is the process's peak resident set size (getrusage's ru_maxrss).
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// HeapAllocsPerStep and HeapBytesPerStep are the Go heap allocations of a timed step (their
	// count and bytes, runtime.MemStats' Mallocs and TotalAlloc): what the host side allocates
	// per step after the warm-up, tensors from the backend's pool not included.
	HeapAllocsPerStep float64 `json:"heap_allocs_per_step"`
	HeapBytesPerStep  float64 `json:"heap_bytes_per_step"`
	// Parameters is the model's trainable parameter count.
	Parameters int `json:"parameters"`
	// Loss is the loss of the last timed step (train only).
	Loss *float64 `json:"loss,omitempty"`
	// GraphCapture says whether the timed steps were replays of a captured step (Ascend only), and
	// CaptureUnavailable why not when it was asked for. ExecutorCache and FusedOptimizer (Ascend
	// only) are the flags the run had.
	GraphCapture       *bool  `json:"graph_capture,omitempty"`
	CaptureUnavailable string `json:"capture_unavailable,omitempty"`
	ExecutorCache      *bool  `json:"executor_cache,omitempty"`
	FusedOptimizer     *bool  `json:"fused_optimizer,omitempty"`
	// Ranks, Rank and BucketCapMB describe a data-parallel step (--distribute True): the job's
	// workers, this one, and the gradient buckets' size.
	Ranks       int     `json:"ranks,omitempty"`
	Rank        int     `json:"rank,omitempty"`
	BucketCapMB float64 `json:"bucket_cap_mb,omitempty"`
}

func (o benchOptions) validate() (resnext.Config, error) {
	cfg, err := resnext.Variant(o.model)
	if err != nil {
		return cfg, fmt.Errorf("--model: %w", err)
	}
	if o.mode != "infer" && o.mode != "train" {
		return cfg, fmt.Errorf("--mode %q: want infer, train or data", o.mode)
	}
	if err := o.validateCommon(); err != nil {
		return cfg, err
	}
	if n := cfg.MinTrainBatch(o.imageSize); o.mode == "train" && o.batchSize < n {
		return cfg, fmt.Errorf("--batch_size %d with --image_size %d: want at least %d in --mode train: %s's last stage is %dx%d, and batch norm in training needs two values per channel",
			o.batchSize, o.imageSize, n, cfg.Name, cfg.FeatureSize(o.imageSize), cfg.FeatureSize(o.imageSize))
	}
	return cfg, nil
}

// validateCommon checks the flags every mode has.
func (o benchOptions) validateCommon() error {
	var bucket error
	if o.distribute || o.bucketCapMB != 0 { // 0 (unset) is fine where nothing is averaged
		bucket = floatFlag("bucket_cap_mb", o.bucketCapMB, 0, true, 1<<16)
	}
	return firstErr(
		intFlag("batch_size", o.batchSize, 1, resnext.MaxBatchSize, "images per step"),
		intFlag("steps", o.steps, 1, maxSteps, "timed steps"),
		intFlag("warmup", o.warmup, 0, maxSteps, "untimed steps"),
		intFlag("image_size", o.imageSize, 1, resnext.MaxImageSize, "pixels"),
		o.device.validate(),
		bucket,
	)
}

func runBench(o benchOptions, out io.Writer, log *zap.Logger) error {
	if o.mode == "data" {
		res, err := benchData(o, log)
		if err != nil {
			return err
		}
		if o.json {
			return json.NewEncoder(out).Encode(res)
		}
		return printDataBench(out, res)
	}
	if _, err := o.validate(); err != nil {
		return err
	}
	o.device.ascend.NoExecutorCache = !o.executorCache
	o.device.ascend.NoFlatOptimizer = !o.fusedOptimizer
	env, err := launch.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	parallel := o.distribute && env.Size > 1
	switch {
	case parallel && o.mode != "train":
		return fmt.Errorf("--distribute True times a training step: give --mode train")
	case parallel:
		log = log.With(zap.Int("rank", env.Rank))
		if o.device.threads == 0 {
			o.device.threads = env.Threads(runtime.NumCPU())
		}
	}
	b, err := o.device.open(log)
	if err != nil {
		return err
	}
	defer b.Close()
	var comm dist.Communicator
	if parallel {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if comm, err = dist.Join(ctx, b, env, tcp.Options{}); err != nil {
			return err
		}
		defer comm.Close()
	}
	res, err := benchOn(b, o, comm, log)
	if err != nil {
		return err
	}
	if b.Name() == "ascend" {
		res.ExecutorCache, res.FusedOptimizer = &o.executorCache, &o.fusedOptimizer
	}
	if o.json {
		return json.NewEncoder(out).Encode(res)
	}
	return printBench(out, res)
}

// benchOn runs the benchmark o describes on b, averaging the gradients over comm when it is not nil.
func benchOn(b ops.Backend, o benchOptions, comm dist.Communicator, log *zap.Logger) (benchResult, error) {
	cfg, err := o.validate()
	if err != nil {
		return benchResult{}, err
	}
	if err := checkMemory(b, cfg, o.batchSize, o.imageSize, o.mode == "train", "batch_size", "image_size"); err != nil {
		return benchResult{}, err
	}
	net, err := resnext.New(b, cfg, benchSeed)
	if err != nil {
		return benchResult{}, err
	}
	defer net.Free()
	trainable, _ := net.NumParams()
	training := o.mode == "train"
	net.SetTraining(training)

	rng := rand.New(rand.NewPCG(benchSeed, 2))
	shape := ops.Shape{o.batchSize, cfg.InChannels, o.imageSize, o.imageSize}
	host := make([]float32, shape.Numel())
	for i := range host {
		host[i] = float32(rng.NormFloat64())
	}
	x := ops.FromFloat32(b, ops.Float32, shape, host)
	defer b.Free(x)
	labels := make([]int32, o.batchSize)
	for i := range labels {
		labels[i] = int32(rng.IntN(cfg.NumClasses))
	}
	y := ops.FromInt32(b, ops.Shape{o.batchSize}, labels)
	defer b.Free(y)

	var (
		ce   *nn.SoftmaxCrossEntropy
		opt  *optim.SGD
		loss ops.Tensor
	)
	if training {
		ce = nn.NewSoftmaxCrossEntropy(b, benchSmoothing)
		defer ce.Free()
		if opt, err = optim.New(b, net.Params(), optim.Options{Opt: "momentum", Momentum: benchMomentum, WeightDecay: benchWeightDecay}); err != nil {
			return benchResult{}, err
		}
		defer opt.Free()
	}
	var buckets *dist.Buckets
	var stepErr error
	if comm != nil {
		buckets = dist.NewBuckets(comm, o.bucketCapMB)
		net.OnGrads(buckets.Ready)
		defer net.OnGrads(nil)
		o.graphCapture = false // the host takes part in every step
	}
	// step queues one step and returns when the calls have returned, before any synchronisation.
	step := func() {
		if !training {
			net.Forward(x)
			return
		}
		loss = ce.Forward(net.Forward(x), y)
		net.Backward(ce.Backward(1))
		if buckets != nil {
			if err := buckets.Finish(); err != nil && stepErr == nil {
				stepErr = err
			}
		}
		opt.Step(benchLR, 1, nil)
	}

	res := benchResult{Model: cfg.Name, Mode: o.mode, Backend: b.Name(), Device: b.Device(), BatchSize: o.batchSize,
		ImageSize: o.imageSize, Warmup: o.warmup, Steps: o.steps, Parameters: trainable}
	if comm != nil {
		res.Ranks, res.Rank, res.BucketCapMB = comm.Size(), comm.Rank(), o.bucketCapMB
	}
	log.Info("bench", zap.String("model", cfg.Name), zap.String("mode", o.mode),
		zap.Int("batch_size", o.batchSize), zap.Int("image_size", o.imageSize), zap.Int("warmup", o.warmup),
		zap.Int("steps", o.steps), zap.Int("parameters", trainable))

	every := o.progressEvery
	if every == 0 {
		every = benchProgressEvery
	}
	stepTimes := make([]time.Duration, 0, o.steps)
	hostTimes := make([]time.Duration, 0, o.steps)
	lastLog := time.Now()
	var before runtime.MemStats
	for i := range o.warmup + o.steps {
		if i == o.warmup {
			if g, err := o.capture(b, step, &res, log); err != nil {
				return res, err
			} else if g != nil {
				defer g.Free()
				step = func() {
					if err := g.Replay(); err != nil {
						log.Error("replay", zap.Error(err))
					}
				}
			}
			stop, err := o.startTimed(&before)
			if err != nil {
				return res, err
			}
			defer stop()
		}
		start := time.Now()
		step()
		queued := time.Now()
		if err := b.Sync(); err != nil {
			return res, fmt.Errorf("step %d: %w", i+1, err)
		}
		if stepErr != nil {
			return res, fmt.Errorf("step %d: %w", i+1, stepErr)
		}
		end := time.Now()
		if i >= o.warmup {
			stepTimes = append(stepTimes, end.Sub(start))
			hostTimes = append(hostTimes, queued.Sub(start))
		}
		if end.Sub(lastLog) >= every {
			lastLog = end
			log.Info("step", zap.Int("step", i+1), zap.Int("of", o.warmup+o.steps), zap.Bool("warmup", i < o.warmup),
				zap.Duration("time", end.Sub(start).Round(time.Millisecond)))
		}
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	res.HeapAllocsPerStep = sig6(float64(after.Mallocs-before.Mallocs) / float64(o.steps))
	res.HeapBytesPerStep = sig6(float64(after.TotalAlloc-before.TotalAlloc) / float64(o.steps))
	if training {
		v, err := ops.ToFloat32(b, loss)
		if err != nil {
			return res, err
		}
		l := float64(v[0])
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return res, fmt.Errorf("the loss is %v after %d steps", l, o.warmup+o.steps)
		}
		l = round4(l)
		res.Loss = &l
	}

	res.setTimes(stepTimes, o.batchSize*o.steps)
	if b.Name() == "ascend" {
		var hostTotal time.Duration
		for _, d := range hostTimes {
			hostTotal += d
		}
		mean, med := ms(hostTotal/time.Duration(o.steps)), ms(median(hostTimes))
		res.HostMsPerStep, res.HostMsPerStepMedian = &mean, &med
	}
	res.PeakRSSBytes = peakRSS()

	fields := []zap.Field{zap.Float64("img_per_s", res.ImgPerS), zap.Float64("ms_per_step", res.MsPerStep),
		zap.Float64("ms_per_step_median", res.MsPerStepMedian), zap.Int64("peak_rss_bytes", res.PeakRSSBytes)}
	if res.HostMsPerStep != nil {
		fields = append(fields, zap.Float64("host_ms_per_step", *res.HostMsPerStep))
	}
	log.Info("done", fields...)
	return res, nil
}

// capture records step as a graph when --graph_capture asks for it and b can (ops.Capturer), and
// returns the graph, nil when the steps run as they are; res says which and why.
func (o benchOptions) capture(b ops.Backend, step func(), res *benchResult, log *zap.Logger) (ops.Graph, error) {
	c, ok := b.(ops.Capturer)
	if !ok {
		return nil, nil
	}
	captured := false
	res.GraphCapture = &captured
	if !o.graphCapture {
		return nil, nil
	}
	if err := c.BeginCapture(); err != nil {
		res.CaptureUnavailable = err.Error()
		log.Info("graph capture unavailable: running each step", zap.Error(err))
		return nil, nil
	}
	step()
	g, err := c.EndCapture()
	if err != nil {
		return nil, fmt.Errorf("capturing a step: %w", err)
	}
	captured = true
	log.Info("captured one step: the timed steps replay it")
	return g, nil
}

// setTimes fills in the throughput of images over the timed steps and the statistics of the
// step times.
func (res *benchResult) setTimes(times []time.Duration, images int) {
	var total time.Duration
	for _, d := range times {
		total += d
	}
	res.ImgPerS = sig6(float64(images) / total.Seconds())
	res.MsPerStep = ms(total / time.Duration(len(times)))
	res.MsPerStepMedian = ms(median(times))
	res.MsPerStepMin = ms(slices.Min(times))
	res.MsPerStepMax = ms(slices.Max(times))
}

// startTimed starts the timed part of a benchmark: it reads the memory statistics the heap figures
// count from, and starts the CPU profile --cpuprofile asks for; stop ends the profile.
func (o benchOptions) startTimed(before *runtime.MemStats) (stop func(), err error) {
	runtime.ReadMemStats(before)
	if o.cpuProfile == "" {
		return func() {}, nil
	}
	return startCPUProfile(o.cpuProfile)
}

// startCPUProfile starts a CPU profile into path and returns the function that stops it and
// closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile %s: %w", path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// printBench writes the result as aligned lines.
func printBench(out io.Writer, r benchResult) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s (%d parameters)\n", r.Model, r.Parameters)
	fmt.Fprintf(tw, "mode\t%s\n", r.Mode)
	fmt.Fprintf(tw, "device\t%s\n", r.Device)
	fmt.Fprintf(tw, "batch\t%d x %dx%d\n", r.BatchSize, r.ImageSize, r.ImageSize)
	fmt.Fprintf(tw, "steps\t%d timed after %d warm-up\n", r.Steps, r.Warmup)
	if r.Ranks > 0 {
		fmt.Fprintf(tw, "data parallel\trank %d of %d, gradients averaged in buckets of %g MiB\n", r.Rank, r.Ranks, r.BucketCapMB)
	}
	fmt.Fprintf(tw, "throughput\t%.2f img/s\n", r.ImgPerS)
	fmt.Fprintf(tw, "ms/step\tmedian %.3f, mean %.3f, min %.3f, max %.3f\n", r.MsPerStepMedian, r.MsPerStep, r.MsPerStepMin, r.MsPerStepMax)
	if r.HostMsPerStep != nil {
		fmt.Fprintf(tw, "host ms/step\tmedian %.3f, mean %.3f (queueing the step, before the synchronisation)\n", *r.HostMsPerStepMedian, *r.HostMsPerStep)
	}
	if r.GraphCapture != nil {
		how := "replays of one captured step"
		switch {
		case r.CaptureUnavailable != "":
			how = "not captured: " + r.CaptureUnavailable
		case !*r.GraphCapture:
			how = "off"
		}
		fmt.Fprintf(tw, "graph capture\t%s\n", how)
	}
	if r.ExecutorCache != nil {
		fmt.Fprintf(tw, "executor cache\t%v\n", onOff(*r.ExecutorCache))
		fmt.Fprintf(tw, "fused optimizer\t%v\n", onOff(*r.FusedOptimizer))
	}
	fmt.Fprintf(tw, "peak RSS\t%.1f MiB (%d bytes)\n", float64(r.PeakRSSBytes)/(1<<20), r.PeakRSSBytes)
	fmt.Fprintf(tw, "heap/step\t%.0f allocations, %.0f bytes (host side, after the warm-up)\n", r.HeapAllocsPerStep, r.HeapBytesPerStep)
	if r.Loss != nil {
		fmt.Fprintf(tw, "last loss\t%.4f\n", *r.Loss)
	}
	return tw.Flush()
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// peakRSS is the process's peak resident set size in bytes: getrusage's ru_maxrss, which Linux
// reports in KiB.
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Maxrss) * 1024
}

// median returns the median of ds (the mean of the middle two for an even count).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ms converts d to milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// sig6 rounds v to 6 significant digits.
func sig6(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	return r
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }
