package train

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/resnext/resnext/ckpt"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/train/config"
	"github.com/resnext/resnext/train/optim"
)

// checkpointPolicy keeps the checkpoints of a run as MindCV's CheckpointManager does: latest_k
// keeps the keep_checkpoint_max newest, top_k the keep_checkpoint_max with the best validation
// top-1, and no policy (an empty ckpt_save_policy, MindCV's None) keeps them all. It starts from the run's files already in ckpt_save_dir ({model}-{epoch}_{batch}.ckpt),
// so a resumed run goes on counting them.
type checkpointPolicy struct {
	dir, model, policy string
	keep               int
	files              []savedCkpt // latest_k: oldest first; top_k: best first
}

type savedCkpt struct {
	path   string
	epoch  int
	batch  int
	metric float64
}

func newCheckpointPolicy(cfg config.Config) (*checkpointPolicy, error) {
	p := &checkpointPolicy{dir: cfg.CkptSaveDir, model: cfg.Model, policy: cfg.CkptSavePolicy, keep: cfg.KeepCheckpointMax}
	if p.policy == "top_k" && !cfg.ValWhileTrain {
		return nil, fmt.Errorf("ckpt_save_policy top_k ranks checkpoints by validation accuracy: it needs val_while_train True")
	}
	entries, err := os.ReadDir(p.dir)
	if err != nil {
		return nil, fmt.Errorf("ckpt_save_dir %s: %w", p.dir, err)
	}
	for _, e := range entries {
		if epoch, batch, ok := parseCheckpointName(e.Name(), p.model); ok {
			p.files = append(p.files, savedCkpt{path: filepath.Join(p.dir, e.Name()), epoch: epoch, batch: batch, metric: -1})
		}
	}
	sort.Slice(p.files, func(i, j int) bool {
		a, b := p.files[i], p.files[j]
		return a.epoch < b.epoch || a.epoch == b.epoch && a.batch < b.batch
	})
	return p, nil
}

// LatestCheckpoint returns the newest checkpoint of model in dir, by epoch then batch
// ({model}-{epoch}_{batch}.ckpt, periodic or written on an interruption), or "" when there is none
// (or no dir): what a restarted job resumes from.
func LatestCheckpoint(dir, model string) (string, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("ckpt_save_dir %s: %w", dir, err)
	}
	best, be, bb := "", -1, -1
	for _, e := range entries {
		if epoch, batch, ok := parseCheckpointName(e.Name(), model); ok && e.Type().IsRegular() && (epoch > be || epoch == be && batch > bb) {
			best, be, bb = filepath.Join(dir, e.Name()), epoch, batch
		}
	}
	return best, nil
}

// parseCheckpointName returns the epoch and batch of a file named {model}-{epoch}_{batch}.ckpt.
func parseCheckpointName(name, model string) (epoch, batch int, ok bool) {
	rest, found := strings.CutPrefix(name, model+"-")
	if !found {
		return 0, 0, false
	}
	rest, found = strings.CutSuffix(rest, ".ckpt")
	if !found {
		return 0, 0, false
	}
	e, b, found := strings.Cut(rest, "_")
	if !found {
		return 0, 0, false
	}
	epoch, err1 := strconv.Atoi(e)
	batch, err2 := strconv.Atoi(b)
	return epoch, batch, err1 == nil && err2 == nil
}

// admit decides whether a new checkpoint with the metric is written, and removes the files the
// policy no longer keeps. It returns false when top_k would not keep it.
func (p *checkpointPolicy) admit(metric float64, log *zap.Logger) bool {
	switch p.policy {
	case "top_k":
		if len(p.files) >= p.keep && len(p.files) > 0 && metric <= p.files[len(p.files)-1].metric {
			return false
		}
		for len(p.files) >= p.keep {
			p.remove(len(p.files)-1, log)
		}
	case "latest_k":
		for len(p.files) >= p.keep {
			p.remove(0, log)
		}
	} // "" (MindCV's None): keep every checkpoint
	return true
}

func (p *checkpointPolicy) remove(i int, log *zap.Logger) {
	if err := os.Remove(p.files[i].path); err != nil && !os.IsNotExist(err) {
		log.Warn("could not remove an old checkpoint", zap.String("checkpoint", p.files[i].path), zap.Error(err))
	}
	p.files = append(p.files[:i], p.files[i+1:]...)
}

// added records a checkpoint written.
func (p *checkpointPolicy) added(s savedCkpt) {
	p.files = append(p.files, s)
	if p.policy == "top_k" {
		sort.SliceStable(p.files, func(i, j int) bool { return p.files[i].metric > p.files[j].metric })
	}
}

// state builds the checkpoint of the whole training state: the model's tensors with MindCV's
// names, then the optimizer's (moments, momentum, learning_rate, global_step), the loss scale,
// the EMA, the position and the class names.
func (t *Trainer) state() (*ckpt.Checkpoint, error) {
	c, err := ckpt.FromParams(t.net.Params(), t.b)
	if err != nil {
		return nil, err
	}
	names, moments := t.opt.Moments()
	extra, err := deviceEntries(t.b, names, moments)
	if err != nil {
		return nil, err
	}
	extra = append(extra,
		scalarF32(keyMomentum, t.cfg.Momentum),
		listF32(keyLearningRate, t.lrs),
		int32Entry(keyGlobalStep, t.globalStep, ops.Shape{1}),
	)
	st := t.scaler.State()
	extra = append(extra, scalarF32(keyScaleSense, st.Scale),
		int32Entry(keyIterStep, t.globalStep, ops.Shape{}),
		int32Entry(keyOverflowStep, t.globalStep-st.GoodSteps, ops.Shape{}))
	if t.ema != nil {
		names, ts := t.ema.Tensors()
		e, err := deviceEntries(t.b, names, ts)
		if err != nil {
			return nil, err
		}
		extra = append(extra, e...)
		extra = append(extra, scalarF32(keyEMAUpdates, float64(t.ema.Updates())))
	}
	extra = append(extra, int32Entry(keyEpochNum, t.epoch, ops.Shape{}), int32Entry(keyStepNum, t.batch, ops.Shape{}))
	c.Extra = extra
	c.Metadata[metaClassNames] = classNamesJSON(t.classes)
	c.Metadata[metaModel] = t.cfg.Model
	if t.net.Config().Stem.String() == "imagenet" {
		c.SetPoolPadding(t.pool)
	}
	return c, nil
}

// saveEpoch writes the checkpoints of an epoch's end from one read of the training state:
// {model}_best.ckpt when best (the best validation top-1 so far), and when periodic (every
// ckpt_save_interval epochs, and the last) {model}-{epoch}_{steps}.ckpt as the policy allows, with
// MindCV's optim_{model}.ckpt (the optimizer's state alone, which MindCV's train.py reads to
// resume). It returns the path of the epoch's checkpoint ("" when none was written). Only rank 0
// of a data-parallel run writes.
func (t *Trainer) saveEpoch(metric float64, best, periodic bool) (string, error) {
	if !best && !periodic || !t.leader() {
		return "", nil
	}
	st, err := t.state()
	if err != nil {
		return "", fmt.Errorf("checkpoint of epoch %d: %w", t.epoch, err)
	}
	if best {
		if err := st.Write(filepath.Join(t.cfg.CkptSaveDir, t.cfg.Model+"_best.ckpt")); err != nil {
			return "", err
		}
	}
	if !periodic {
		return "", nil
	}
	if !t.ckpts.admit(metric, t.log) {
		t.log.Info("checkpoint not kept: top_k holds better ones", zap.Float64("val_top1", metric))
		return "", nil
	}
	path := filepath.Join(t.cfg.CkptSaveDir, checkpointName(t.cfg.Model, t.epoch, t.stepsPerEpoch))
	if err := st.Write(path); err != nil {
		return "", t.writeFailed(err)
	}
	t.ckpts.added(savedCkpt{path: path, epoch: t.epoch, batch: t.stepsPerEpoch, metric: metric})
	if err := t.writeOptim(st); err != nil {
		return "", err
	}
	t.log.Info("checkpoint saved", zap.String("checkpoint", path))
	return path, nil
}

// writeFailed is the error of a checkpoint that could not be written (a full disk, a directory turned
// read-only): the run stops, and the error says which checkpoint it can resume from, which the
// atomic write left whole.
func (t *Trainer) writeFailed(err error) error {
	prev, _ := LatestCheckpoint(t.cfg.CkptSaveDir, t.cfg.Model)
	if prev == "" {
		return fmt.Errorf("%w; the run stopped before writing any checkpoint: free space in ckpt_save_dir %s (or give another) and start again", err, t.cfg.CkptSaveDir)
	}
	return fmt.Errorf("%w; the run stopped, its checkpoint %s is whole: free space in ckpt_save_dir %s (or give another) and resume with --ckpt_path %s --resume_opt True",
		err, prev, t.cfg.CkptSaveDir, prev)
}

// writeOptim writes optim_{model}.ckpt: the optimizer's entries of the training state full, as
// MindSpore saves an optimizer.
func (t *Trainer) writeOptim(full *ckpt.Checkpoint) error {
	c := ckpt.New()
	names, _ := t.opt.Moments() // moments.<param>, or accum.<param> for sgd
	keep := map[string]bool{keyMomentum: true, keyLearningRate: true, keyGlobalStep: true}
	for _, n := range names {
		keep[n] = true
	}
	for _, e := range full.Extra {
		if keep[e.Name] {
			c.Extra = append(c.Extra, e)
		}
	}
	return c.Write(filepath.Join(t.cfg.CkptSaveDir, "optim_"+t.cfg.Model+".ckpt"))
}

// saveNow writes a checkpoint of the current position, mid-epoch or not.
func (t *Trainer) saveNow() (string, error) {
	epoch, batch := t.epoch+1, t.batch
	if batch == 0 && t.epoch > 0 {
		epoch, batch = t.epoch, t.stepsPerEpoch
	}
	path := filepath.Join(t.cfg.CkptSaveDir, checkpointName(t.cfg.Model, epoch, batch))
	st, err := t.state()
	if err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := st.Write(path); err != nil {
		return "", err
	}
	t.ckpts.added(savedCkpt{path: path, epoch: epoch, batch: batch, metric: -1})
	return path, nil
}

// restore loads the weights of ckpt_path (train and validate) and, with resume_opt, the whole
// training state: optimizer moments, global step, loss scale, EMA and the position in the data.
func (t *Trainer) restore() error {
	c := t.cfg
	if t.finetune || c.CkptPath == "" {
		return nil
	}
	ck, err := ckpt.Read(c.CkptPath)
	if err != nil {
		return err
	}
	if err := t.setPoolPadding(ck); err != nil {
		return err
	}
	if _, err := ckpt.Load(t.net.Params(), t.b, ck, ckpt.LoadOptions{}); err != nil {
		return fmt.Errorf("--ckpt_path: %w", err)
	}
	if !c.ResumeOpt {
		t.log.Info("weights loaded; the optimizer starts afresh (--resume_opt True resumes it)", zap.String("ckpt", c.CkptPath))
		return nil
	}
	// The optimizer's state is in the checkpoint itself, or in MindCV's optim_{model}.ckpt beside
	// it or in ckpt_save_dir.
	src := ck
	if _, ok := ck.ExtraTensor(keyGlobalStep); !ok {
		for _, dir := range []string{filepath.Dir(c.CkptPath), c.CkptSaveDir} {
			p := filepath.Join(dir, "optim_"+c.Model+".ckpt")
			if o, err := ckpt.Read(p); err == nil {
				src = o
				break
			}
		}
		if src == ck {
			return fmt.Errorf("--resume_opt: ckpt %s holds no optimizer state (global_step, moments.*) and there is no optim_%s.ckpt beside it: resume from a checkpoint a training run wrote, or drop --resume_opt", c.CkptPath, c.Model)
		}
	}
	names, moments := t.opt.Moments()
	if err := loadEntries(t.b, src, names, moments); err != nil {
		return fmt.Errorf("--resume_opt: %w", err)
	}
	gs, _, err := entryNumber(src, keyGlobalStep)
	if err != nil {
		return err
	}
	t.globalStep = int(gs)
	st := optim.ScalerState{Scale: t.scaler.Scale()}
	if v, ok, err := entryNumber(src, keyScaleSense); err != nil {
		return err
	} else if ok {
		st.Scale = v
	}
	if v, ok, err := entryNumber(src, keyOverflowStep); err != nil {
		return err
	} else if ok {
		st.GoodSteps = max(0, t.globalStep-int(v))
	}
	t.scaler.SetState(st)
	if t.ema != nil {
		names, ts := t.ema.Tensors()
		if err := loadEntries(t.b, src, names, ts); err != nil {
			return fmt.Errorf("--resume_opt with ema: %w", err)
		}
		if v, ok, err := entryNumber(src, keyEMAUpdates); err != nil {
			return err
		} else if ok {
			t.ema.SetUpdates(int(v))
		}
	}
	// The position in the data: where the run stopped, or, for a checkpoint without one (MindCV's),
	// the epoch its global step falls in.
	t.epoch, t.batch = t.globalStep/t.stepsPerEpoch, 0
	if e, ok, err := entryNumber(src, keyEpochNum); err != nil {
		return err
	} else if ok {
		t.epoch = int(e)
		if b, ok, err := entryNumber(src, keyStepNum); err != nil {
			return err
		} else if ok {
			t.batch = int(b)
		}
	}
	if t.batch >= t.stepsPerEpoch {
		t.epoch, t.batch = t.epoch+1, 0
	}
	t.log.Info("resumed", zap.String("ckpt", c.CkptPath), zap.Int("global_step", t.globalStep), zap.Int("epoch", t.epoch+1),
		zap.Int("step", t.batch), zap.Float64("lr", t.currentLR()), zap.Float64("loss_scale", st.Scale))
	return nil
}
