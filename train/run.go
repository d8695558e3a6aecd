package train

import (
	"context"
	"fmt"
	"math"
	"time"

	"go.uber.org/zap"

	"github.com/resnext/resnext/dist"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/train/metrics"
	"github.com/resnext/resnext/train/optim"
)

// record writes rec to metrics.jsonl (rank 0's only).
func (t *Trainer) record(rec metrics.Record) error {
	if t.jsonl == nil {
		return nil
	}
	return t.jsonl.Write(rec)
}

// interval accumulates what the log line of an interval of steps reports.
type interval struct {
	steps    int
	images   int
	start    time.Time
	dataWait time.Duration
	overflow bool
}

// Run trains from the current position to epoch_size, validating every val_interval epochs when
// val_while_train is set and writing checkpoints as ckpt_save_policy says. When ctx is cancelled it
// stops after the step under way, writes a checkpoint of the position and returns ErrInterrupted
// (with the summary so far).
func (t *Trainer) Run(ctx context.Context) (*Summary, error) {
	c := t.cfg
	sum := &Summary{}
	t.net.SetTraining(true)
	in := newInput(t.b, t.trainSet)
	defer in.free()
	// The wall time of the training loops (validation and checkpoints excluded), data waits
	// included: what the throughput is measured over.
	trainWall, trainImages, trainSteps := time.Duration(0), 0, 0

	t.log.Info("training",
		zap.String("model", c.Model), zap.String("device", t.b.Device()), zap.Int("train_images", t.trainLoader.Len()),
		zap.Int("classes", len(t.classes)), zap.Int("batch_size", c.BatchSize), zap.Int("steps_per_epoch", t.stepsPerEpoch),
		zap.Int("epochs", c.EpochSize), zap.Int("start_epoch", t.epoch+1), zap.Int("global_step", t.globalStep),
		zap.String("amp_level", c.AmpLevel), zap.Float64("loss_scale", t.scaler.Scale()), zap.String("loss_scale_type", c.LossScaleType))

	for t.epoch < c.EpochSize {
		epochStart := time.Now()
		if t.prom != nil {
			t.prom.Epoch(t.epoch + 1)
		}
		if t.bar != nil {
			t.bar.Start(t.epoch+1, c.EpochSize, t.stepsPerEpoch, t.batch)
		}
		loopStart := time.Now()
		it := t.trainLoader.Epoch(t.epoch, t.batch)
		iv := interval{start: time.Now()}
		var epochLossSum float64
		epochLosses := 0
		for {
			// The ranks of a data-parallel run agree at each step's end whether to stop (see below).
			if t.par == nil && ctx.Err() != nil {
				it.Close()
				if t.bar != nil {
					t.bar.Done()
				}
				return t.interrupted(sum)
			}
			batch, ok := it.Next()
			if !ok {
				break
			}
			stepStart := time.Now()
			iv.dataWait += batch.Wait
			n := batch.N
			x, labels := in.load(batch, t.trainLoader)
			scale := t.scaler.Scale()
			logits := t.net.Forward(x)
			l := t.loss.Forward(logits, labels)
			t.b.Add(t.lossSum, l, t.lossSum, 1)
			t.net.Backward(t.loss.Backward(scale))
			stop := false
			if t.par != nil {
				var err error
				if stop, err = t.par.finish(ctx.Err() != nil); err != nil {
					it.Close()
					return sum, err
				}
			}
			t.batch++
			iv.steps++
			iv.images += n
			trainImages += n
			applied, err := t.update(scale)
			if err != nil {
				it.Close()
				return sum, err
			}
			iv.overflow = iv.overflow || !applied
			if t.prom != nil {
				t.prom.Step(t.lastLoss, t.currentLR(), t.scaler.Scale(), n, since(stepStart), batch.Wait.Seconds())
			}
			// The host waits for the device only at log lines, so a device backend runs ahead.
			last := t.batch == t.stepsPerEpoch
			if iv.steps >= c.LogInterval || last || t.bar != nil && t.batch%max(1, min(c.LogInterval, 10)) == 0 {
				mean, err := t.readLoss(iv.steps)
				if err != nil {
					it.Close()
					return sum, err
				}
				if !finite(mean) && !iv.overflow {
					it.Close()
					return sum, fmt.Errorf("epoch %d step %d: the loss is %v: lower --lr (now %g) or check the data", t.epoch+1, t.batch, mean, c.LR)
				}
				epochLossSum += mean * float64(iv.steps)
				epochLosses += iv.steps
				t.report(iv, mean)
				iv = interval{start: time.Now()}
			}
			trainSteps++
			if t.bar != nil {
				t.bar.Step(t.batch)
			}
			if stop {
				it.Close()
				if t.bar != nil {
					t.bar.Done()
				}
				return t.interrupted(sum)
			}
		}
		it.Close()
		if err := it.Err(); err != nil {
			return sum, fmt.Errorf("epoch %d: %w", t.epoch+1, err)
		}
		trainWall += time.Since(loopStart)
		if t.bar != nil {
			t.bar.Done()
		}
		// The epoch is done.
		t.epoch++
		t.batch = 0
		rec := metrics.Record{Time: time.Now(), Kind: "epoch", Epoch: t.epoch, Step: t.globalStep,
			Images: t.trainLoader.Len(), Skipped: int(t.trainLoader.Skipped())}
		if epochLosses > 0 {
			rec.Loss = metrics.F(epochLossSum / float64(epochLosses))
		}
		rec.ImgPerS = metrics.F(float64(t.trainLoader.Len()) / since(epochStart))
		if err := t.record(rec); err != nil {
			return sum, err
		}
		last := t.epoch == c.EpochSize
		var res *EvalResult
		best := false
		if t.valLoader != nil && (t.epoch%max(c.ValInterval, 1) == 0 || last) {
			r, err := t.validate(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return t.interrupted(sum)
				}
				return sum, err
			}
			res = &r
			sum.Last = r
			if r.Top1 > sum.Best.Top1 || sum.BestEpoch == 0 {
				sum.Best, sum.BestEpoch, best = r, t.epoch, true
			}
		}
		fields := []zap.Field{zap.Int("epoch", t.epoch), zap.Int("epochs", c.EpochSize), zap.Int("global_step", t.globalStep),
			zap.Duration("time", time.Since(epochStart).Round(time.Millisecond))}
		if rec.Loss != nil {
			fields = append(fields, zap.Float64("loss", round4(*rec.Loss)))
		}
		if res != nil {
			fields = append(fields, zap.Float64("val_top1", round4(res.Top1)), zap.Float64("val_top5", round4(res.Top5)), zap.Float64("val_loss", round4(res.Loss)))
		}
		if n := t.trainLoader.Skipped(); n > 0 {
			fields = append(fields, zap.Int64("skipped_images", n))
		}
		t.log.Info("epoch done", fields...)
		metric := 0.0
		if res != nil {
			metric = res.Top1
		}
		path, err := t.saveEpoch(metric, best, t.epoch%max(c.CkptSaveInterval, 1) == 0 || last)
		if err != nil {
			return sum, err
		}
		if path != "" {
			sum.Checkpoint = path
		}
	}
	sum.Epochs, sum.Steps = t.epoch, t.globalStep
	sum.Skipped = t.trainLoader.Skipped()
	sum.Overflows = t.overflows
	if s := trainWall.Seconds(); s > 0 {
		sum.ImagesPerSecond = float64(trainImages) / s
		sum.StepsPerSecond = float64(trainSteps) / s
	}
	fields := []zap.Field{zap.String("checkpoint", sum.Checkpoint), zap.Float64("img_per_s", round1(sum.ImagesPerSecond)),
		zap.Float64("steps_per_s", roundTo(sum.StepsPerSecond, 1e3))}
	if sum.BestEpoch > 0 {
		fields = append(fields, zap.Float64("best_val_top1", round4(sum.Best.Top1)), zap.Int("best_epoch", sum.BestEpoch))
	}
	t.log.Info("training done", fields...)
	return sum, nil
}

// update follows one step's backward pass as MindCV's train step does: the overflow check the
// loss scaler asks for (an overflowing step is skipped whole: no accumulation, no EMA, no step of
// the schedule), clipping, then either the optimizer's update with the schedule's learning rate or,
// with gradient_accumulation_steps, the accumulation of the unscaled gradients and an update with
// their mean every that many steps; then the EMA. It reports whether the step counted (false:
// skipped for overflow).
func (t *Trainer) update(scale float64) (bool, error) {
	c := t.cfg
	grads := make([]ops.Tensor, 0, len(t.opt.Params()))
	for _, p := range t.opt.Params() {
		grads = append(grads, p.Grad)
	}
	if t.scaler.NeedsCheck() {
		ok, err := optim.AllFinite(t.b, grads)
		if err != nil {
			return false, err
		}
		if !t.scaler.Update(ok) {
			t.overflows++
			t.skippedInARow++
			if t.skippedInARow >= maxSkippedInARow {
				return false, fmt.Errorf("epoch %d step %d: the gradients overflowed %d steps in a row (loss scale now %g): the training diverged; lower --lr (now %g) or resume from an earlier checkpoint",
					t.epoch+1, t.batch, t.skippedInARow, t.scaler.Scale(), c.LR)
			}
			if t.prom != nil {
				t.prom.Overflow()
			}
			t.log.Warn("gradients overflowed: step skipped", zap.Int("epoch", t.epoch+1), zap.Int("step", t.batch),
				zap.Float64("new_loss_scale", t.scaler.Scale()))
			return false, nil
		}
	}
	if c.ClipGrad {
		if _, err := optim.ClipByGlobalNorm(t.b, grads, c.ClipValue, scale); err != nil {
			return false, err
		}
	}
	lrv := t.currentLR()
	if t.accum != nil {
		t.accum.AddScaled(1 / scale)
		if t.accum.Count() == c.GradientAccumulationSteps {
			t.opt.Step(lrv, 1, t.accum.Grads())
			t.accum.Reset()
		}
	} else {
		t.opt.Step(lrv, 1/scale, nil)
	}
	if t.ema != nil {
		t.ema.Update()
	}
	t.globalStep++
	t.skippedInARow = 0
	return true, nil
}

// maxSkippedInARow is how many steps in a row may overflow before the run stops: a dynamic loss
// scale that keeps overflowing after halving that often means the training diverged.
const maxSkippedInARow = 2000

// readLoss returns the mean of the losses summed on the device over the last steps and restarts
// the sum.
func (t *Trainer) readLoss(steps int) (float64, error) {
	if t.par != nil {
		if err := t.par.mean(t.lossSum); err != nil {
			return 0, err
		}
	}
	v, err := ops.ToFloat32(t.b, t.lossSum)
	if err != nil {
		return 0, err
	}
	t.b.Fill(t.lossSum, 0)
	return float64(v[0]) / float64(steps), nil
}

// currentLR is the learning rate of the next update.
func (t *Trainer) currentLR() float64 { return t.lrs[min(t.globalStep, len(t.lrs)-1)] }

// report logs an interval of steps and writes it to the metrics.
func (t *Trainer) report(iv interval, loss float64) {
	secs := since(iv.start)
	ips := float64(iv.images) / secs
	lrv := t.currentLR()
	rec := metrics.Record{Time: time.Now(), Kind: "train", Epoch: t.epoch + 1, Step: t.globalStep, Loss: metrics.F(loss),
		LR: metrics.F(lrv), LossScale: metrics.F(t.scaler.Scale()), ImgPerS: metrics.F(ips),
		StepTime: metrics.F(secs / float64(iv.steps)), DataWait: metrics.F(iv.dataWait.Seconds()),
		Skipped: int(t.trainLoader.Skipped()), Overflow: iv.overflow}
	if err := t.record(rec); err != nil {
		t.log.Warn("metrics file", zap.Error(err))
	}
	t.lastLoss = loss
	if t.prom != nil {
		t.prom.ImagesPerSecond(ips)
	}
	if t.bar != nil {
		t.bar.Report(loss, lrv)
		return
	}
	t.log.Info("train", zap.Int("epoch", t.epoch+1), zap.Int("step", t.batch), zap.Int("steps", t.stepsPerEpoch),
		zap.Int("global_step", t.globalStep), zap.Float64("loss", round4(loss)), zap.Float64("lr", round6(lrv)),
		zap.Float64("img_per_s", round1(ips)), zap.Duration("data_wait", iv.dataWait.Round(time.Millisecond)))
}

// validate evaluates the model (with the averaged weights when ema is set) on the validation set.
func (t *Trainer) validate(ctx context.Context) (EvalResult, error) {
	if t.ema != nil {
		t.ema.Swap()
		defer t.ema.Swap()
	}
	var comm dist.Communicator
	if t.par != nil {
		// Every rank evaluates its shard with rank 0's batch-norm statistics, those of the
		// checkpoint rank 0 writes, and keeps its own for training.
		restore, err := t.par.borrowStatistics(t.net.Params())
		if err != nil {
			return EvalResult{}, err
		}
		defer restore()
		comm = t.par.comm
	}
	r, err := evaluate(ctx, t.b, t.net, t.valSet, t.valLoader, comm)
	if err != nil {
		return r, err
	}
	rec := metrics.Record{Time: time.Now(), Kind: "eval", Epoch: t.epoch, Step: t.globalStep, Loss: metrics.F(r.Loss),
		Top1: metrics.F(r.Top1), Top5: metrics.F(r.Top5), Images: r.Images}
	if err := t.record(rec); err != nil {
		return r, err
	}
	if t.prom != nil {
		t.prom.Eval(r.Top1, r.Top5, r.Loss)
	}
	return r, nil
}

// interrupted writes a checkpoint of the exact position and returns ErrInterrupted.
func (t *Trainer) interrupted(sum *Summary) (*Summary, error) {
	sum.Epochs, sum.Steps = t.epoch, t.globalStep
	if !t.leader() {
		t.log.Info("interrupted: rank 0 writes the checkpoint", zap.Int("epoch", t.epoch+1), zap.Int("step", t.batch), zap.Int("global_step", t.globalStep))
		return sum, fmt.Errorf("%w at epoch %d step %d: rank 0 wrote the checkpoint to resume from", ErrInterrupted, t.epoch+1, t.batch)
	}
	path, err := t.saveNow()
	if err != nil {
		return sum, fmt.Errorf("%w; writing its checkpoint failed: %v", ErrInterrupted, err)
	}
	sum.Checkpoint = path
	t.log.Info("interrupted: checkpoint written", zap.String("checkpoint", path), zap.Int("epoch", t.epoch+1),
		zap.Int("step", t.batch), zap.Int("global_step", t.globalStep))
	return sum, fmt.Errorf("%w at epoch %d step %d: resume with --ckpt_path %s --resume_opt True", ErrInterrupted, t.epoch+1, t.batch, path)
}

func round1(v float64) float64 { return roundTo(v, 10) }
func round4(v float64) float64 { return roundTo(v, 1e4) }
func round6(v float64) float64 { return roundTo(v, 1e6) }

// roundTo rounds v to the nearest multiple of 1/k, for log lines.
func roundTo(v, k float64) float64 { return math.Round(v*k) / k }
