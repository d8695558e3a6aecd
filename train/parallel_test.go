package train

import (
	"context"
	"crypto/sha256"
	"errors"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/resnext/resnext/dist"
	"github.com/resnext/resnext/dist/launch"
	"github.com/resnext/resnext/dist/rendezvous"
	"github.com/resnext/resnext/dist/tcp"
	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/train/config"
	"github.com/resnext/resnext/train/metrics"
)

// stepHashes is a Progress that records, after every step, a hash of the trainable parameters, and
// cancels the run at step cancelAt of the first epoch (0: never).
type stepHashes struct {
	tr       **Trainer
	b        ops.Backend
	hashes   [][32]byte
	cancelAt int
	cancel   func()
	epoch    int
}

func (s *stepHashes) Start(epoch, epochs, steps, done int) { s.epoch = epoch }
func (s *stepHashes) Step(done int) {
	h := sha256.New()
	for _, p := range (*s.tr).Model().Params() {
		if !p.Trainable {
			continue
		}
		v, err := ops.ToFloat32(s.b, p.Value)
		if err != nil {
			panic(err)
		}
		h.Write(ops.Bytes(v))
	}
	s.hashes = append(s.hashes, [32]byte(h.Sum(nil)))
	if s.epoch == 1 && done == s.cancelAt && s.cancel != nil {
		s.cancel()
	}
}
func (s *stepHashes) Report(loss, lr float64) {}
func (s *stepHashes) Done()                   {}

// rankResult is what one rank of a data-parallel test run left behind.
type rankResult struct {
	sum    *Summary
	hashes [][32]byte
	err    error
}

// runRanks trains cfg on size ranks in this process, each with its own CPU backend, meeting through a
// scheduler and averaging over a TCP ring; each, when not nil, adjusts rank r's configuration and
// progress.
func runRanks(t *testing.T, cfg config.Config, size int, each func(r int, c *config.Config, p *stepHashes)) []rankResult {
	t.Helper()
	s, err := rendezvous.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	host, port, _ := net.SplitHostPort(s.Addr())
	p, _ := strconv.Atoi(port)
	out := make([]rankResult, size)
	var wg sync.WaitGroup
	for r := range size {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := testutil.CPU(t, 1)
			env := launch.Env{Rank: r, Size: size, LocalRank: r, LocalSize: size, MasterAddr: host, MasterPort: p,
				Launcher: "msrun", ClusterTimeout: 20 * time.Second}
			comm, err := dist.JoinTCP(context.Background(), b, env, "127.0.0.1", tcp.Options{Timeout: 20 * time.Second})
			if err != nil {
				out[r].err = err
				return
			}
			defer comm.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var tr *Trainer
			prog := &stepHashes{tr: &tr, b: b, cancel: cancel}
			c := cfg
			if each != nil {
				each(r, &c, prog)
			}
			tr, err = New(Options{Config: c, Backend: b, Progress: prog, Comm: comm})
			if err != nil {
				out[r].err = err
				return
			}
			defer tr.Close()
			out[r].sum, out[r].err = tr.Run(ctx)
			out[r].hashes = prog.hashes
		}()
	}
	wg.Wait()
	return out
}

// TestDataParallel: two ranks with batch 16 each keep bit-identical weights after every step, take
// half the steps' samples each, write one set of checkpoints (rank 0's), report the same validation
// (rank 0's statistics, summed over the shards), which is the validation of rank 0's checkpoint; and
// they train as one process with the global batch of 32 does.
func TestDataParallel(t *testing.T) {
	cfg := smallConfig(t)
	cfg.ValWhileTrain = true
	cfg.NumSamples, cfg.EpochSize, cfg.DecayEpochs = 1024, 2, 2
	if raceEnabled {
		cfg.NumSamples = 128
	}
	single := cfg
	single.CkptSaveDir = t.TempDir()
	cfg.BatchSize = 16
	cfg.Distribute = true
	res := runRanks(t, cfg, 2, nil)
	for r, x := range res {
		if x.err != nil {
			t.Fatalf("rank %d: %v", r, x.err)
		}
	}
	if want := 2 * cfg.NumSamples / 32; len(res[0].hashes) != want { // 2 epochs of NumSamples/2/16 steps
		t.Fatalf("rank 0 took %d steps, want %d", len(res[0].hashes), want)
	}
	for i := range res[0].hashes {
		if res[0].hashes[i] != res[1].hashes[i] {
			t.Fatalf("the ranks' weights differ after step %d", i+1)
		}
	}
	a, b := res[0].sum.Last, res[1].sum.Last
	a.Seconds, b.Seconds = 0, 0
	if a != b {
		t.Errorf("the ranks report different validations: %+v and %+v", res[0].sum.Last, res[1].sum.Last)
	}
	if res[0].sum.Last.Images != 500 {
		t.Errorf("validation counted %d images, want the 500 of the set", res[0].sum.Last.Images)
	}
	if res[1].sum.Checkpoint != "" {
		t.Errorf("rank 1 reports a checkpoint %s", res[1].sum.Checkpoint)
	}
	// rank 0's checkpoint, validated alone, gives what the run reported.
	v := cfg
	v.CkptPath = res[0].sum.Checkpoint
	got, err := Validate(context.Background(), Options{Config: v, Backend: testutil.CPU(t, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if got.Top1 != res[0].sum.Last.Top1 || math.Abs(got.Loss-res[0].sum.Last.Loss) > 1e-4 {
		t.Errorf("validating rank 0's checkpoint: %+v; the run reported %+v", got, res[0].sum.Last)
	}
	recs, err := metrics.Read(filepath.Join(cfg.CkptSaveDir, "metrics.jsonl"))
	if err != nil || len(recs) == 0 {
		t.Fatalf("rank 0's metrics: %d records, %v", len(recs), err)
	}

	// One process with the global batch: the same samples each step, the same augmentation; only
	// the batch statistics (over 16 images, not 32) and sums' order differ.
	if raceEnabled {
		return
	}
	one := run(t, single, 0)
	if one.err != nil {
		t.Fatal(one.err)
	}
	t.Logf("top-1: 2 ranks x 16 %.3f, 1 process x 32 %.3f", res[0].sum.Last.Top1, one.sum.Last.Top1)
	if d := math.Abs(one.sum.Last.Top1 - res[0].sum.Last.Top1); d > 0.1 {
		t.Errorf("top-1 %.3f with 2 ranks, %.3f with one process: they should train alike", res[0].sum.Last.Top1, one.sum.Last.Top1)
	}
}

// TestDataParallelStopsTogether: when one rank is interrupted (its context cancelled), every rank
// stops after the same step, rank 0 writes the checkpoint, and a run resumed from it on two ranks
// ends with the weights of an uninterrupted run.
func TestDataParallelStopsTogether(t *testing.T) {
	cfg := smallConfig(t)
	cfg.BatchSize = 16
	cfg.Distribute = true
	whole := runRanks(t, cfg, 2, nil)
	if whole[0].err != nil || whole[1].err != nil {
		t.Fatal(whole[0].err, whole[1].err)
	}
	cfg.CkptSaveDir = t.TempDir()
	first := runRanks(t, cfg, 2, func(r int, _ *config.Config, p *stepHashes) {
		if r == 1 {
			// Rank 1 alone is told to stop after 2 of the first epoch's 4 steps: it says so with the
			// next step's gradients, after which every rank stops.
			p.cancelAt = 2
		}
	})
	for r, x := range first {
		if !errors.Is(x.err, ErrInterrupted) {
			t.Fatalf("rank %d returned %v, want ErrInterrupted", r, x.err)
		}
		if len(x.hashes) != 3 {
			t.Errorf("rank %d stopped after %d steps, want 3", r, len(x.hashes))
		}
	}
	path := first[0].sum.Checkpoint
	if filepath.Base(path) != "resnext14_small-1_3.ckpt" {
		t.Fatalf("rank 0's checkpoint %q, want resnext14_small-1_3.ckpt", path)
	}
	// Only rank 0 is given the checkpoint (a restarted job's other ranks may not see rank 0's
	// disk): the others get the weights, the optimizer's state and the position from it.
	second := runRanks(t, cfg, 2, func(r int, c *config.Config, _ *stepHashes) {
		if r == 0 {
			c.CkptPath, c.ResumeOpt = path, true
		}
	})
	for r, x := range second {
		if x.err != nil {
			t.Fatalf("resumed rank %d: %v", r, x.err)
		}
		if x.sum.Steps != whole[0].sum.Steps {
			t.Errorf("resumed rank %d ends at step %d, want %d", r, x.sum.Steps, whole[0].sum.Steps)
		}
		if last := x.hashes[len(x.hashes)-1]; last != whole[0].hashes[len(whole[0].hashes)-1] {
			t.Errorf("resumed rank %d ends with other weights than the uninterrupted run", r)
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Error(err)
	}
}
