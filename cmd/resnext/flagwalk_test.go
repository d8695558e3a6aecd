package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/resnext/resnext/data/npy"
	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/ops/cpu"
	"github.com/resnext/resnext/resnext"
)

// hostileValues are what TestFlagWalk gives every flag, whatever its type: a value that does not
// parse is refused by the flag parser, which is a clean refusal too.
var hostileValues = []string{"0", "-1", "NaN", "Inf", "1e30", "99999999999", "", strings.Repeat("x", 5000)}

// walkLimit is how long one command of the walk may run: each starts from a tiny job (resnext14_small,
// a 4-image folder, one step), so a longer run is a value that made it run away.
const walkLimit = 8 * time.Second

// walkWorkers is how many runs of the walk go at once: most of a run's time is the process starting
// and waiting for its files, not the CPU.
const walkWorkers = 4

// walkFixtures are the files the walk's base command lines use.
type walkFixtures struct {
	dir, data, ckpt, metrics string
	// grey and input are a one-channel resnext14_small and a batch for it, for predict (which
	// builds the variant's grey-scale input layer).
	grey, input string
}

// newWalkFixtures trains one step on a small ImageFolder (4 images a class, 16 pixels) for the
// checkpoint and metrics the other commands read, and saves a grey-scale model and a 2-image NCHW
// batch for predict.
func newWalkFixtures(t *testing.T) walkFixtures {
	t.Helper()
	dir := t.TempDir()
	f := walkFixtures{dir: dir, data: filepath.Join(dir, "folder"), grey: filepath.Join(dir, "grey.ckpt"), input: filepath.Join(dir, "x.npy")}
	testutil.WriteImageFolder(t, f.data, []string{"a", "b"}, 2, 16)
	ck := filepath.Join(dir, "ck")
	if _, err := run(t, append([]string{"train"}, trainBase(f.data, ck)...)...); err != nil {
		t.Fatal(err)
	}
	f.ckpt, f.metrics = filepath.Join(ck, "resnext14_small-1_2.ckpt"), filepath.Join(ck, "metrics.jsonl")
	cfg, _ := resnext.Variant("resnext14_small")
	savedModel(t, cpu.New(cpu.Options{Threads: 1}), cfg, f.grey)
	x, err := npy.FromFloat32([]int{2, 1, 16, 16}, make([]float32, 2*16*16))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Write(f.input); err != nil {
		t.Fatal(err)
	}
	return f
}

// trainBase is a one-epoch, two-step training job on the folder at data.
func trainBase(data, ckptDir string) []string {
	return []string{"--dataset", "imagenet", "--data_dir", data, "--model", "resnext14_small", "--image_resize", "16",
		"--batch_size", "2", "--epoch_size", "1", "--warmup_epochs", "0", "--decay_epochs", "1", "--val_while_train", "False",
		"--num_parallel_workers", "1", "--threads", "1", "--device_target", "CPU", "--ckpt_save_dir", ckptDir}
}

// walkBase is the command line of each command that the walk adds one hostile flag to: a small job
// that succeeds as it is. ckptDir is the run's own folder for what it writes.
func (f walkFixtures) walkBase(command, ckptDir string) []string {
	switch command {
	case "train":
		return trainBase(f.data, ckptDir)
	case "finetune":
		return append(trainBase(f.data, ckptDir), "--ckpt_path", f.ckpt, "--lr", "0.01", "--ckpt_save_policy", "latest_k")
	case "validate":
		return append(trainBase(f.data, ckptDir), "--ckpt_path", f.ckpt)
	case "predict":
		return []string{"--model", "resnext14_small", "--ckpt_path", f.grey, "--input", f.input, "--output",
			filepath.Join(ckptDir, "y.npy"), "--threads", "1", "--device_target", "CPU"}
	case "bench":
		return []string{"--model", "resnext14_small", "--image_size", "16", "--batch_size", "2", "--steps", "1",
			"--warmup", "0", "--threads", "1", "--device_target", "CPU", "--data_dir", f.data, "--num_parallel_workers", "1"}
	case "convert":
		return []string{f.ckpt, filepath.Join(ckptDir, "w.safetensors")}
	case "plot":
		return []string{f.metrics, "-o", filepath.Join(ckptDir, "c.png"), "--width", "480", "--height", "360"}
	case "msrun":
		return []string{"--worker_num", "1", "--local_worker_num", "1", "--log_dir", ckptDir, "--cluster_time_out", "5",
			"--grace_period", "1s"}
	}
	return nil
}

// walkCase is one command run with one flag set to one hostile value.
type walkCase struct {
	command, flag, value string
}

func (c walkCase) String() string {
	v := c.value
	if len(v) > 20 {
		v = v[:8] + "...(" + strconv.Itoa(len(v)) + " bytes)"
	}
	return fmt.Sprintf("%s --%s=%q", c.command, c.flag, v)
}

// args is the command line of c: the base, then the flag (which overrides the base's), and for
// msrun the worker command after its own flags.
func (c walkCase) args(f walkFixtures, dir string) []string {
	args := append([]string{c.command}, f.walkBase(c.command, dir)...)
	args = append(args, "--"+c.flag+"="+c.value)
	switch c.command {
	case "msrun":
		args = append(args, "--master_port", freePortNumber(), "/bin/true")
	}
	return args
}

// freePortNumber is a TCP port free at the time of the call.
func freePortNumber() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "0"
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// refusedInProcess parses a command line in this process, without running it, and for train,
// finetune and validate resolves its configuration: a flag value that does not parse, or that the
// configuration's validation refuses, ends there, and its error is returned. It returns nil when
// the run would go ahead.
func refusedInProcess(args []string) error {
	root := newRoot()
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	switch cmd.Name() {
	case "train", "finetune", "validate":
		_, _, err = resolveConfig(cmd, configBase(cmd.Name()))
		return err
	}
	return nil
}

// walkFlags lists each command's flags but help, and for the commands that take MindCV's keys
// whether they do.
func walkFlags() map[string][]string {
	flags := map[string][]string{}
	for _, cmd := range newRoot().Commands() {
		switch cmd.Name() {
		case "help", "completion":
			continue
		}
		cmd.Flags().VisitAll(func(fl *pflag.Flag) {
			if fl.Name != "help" {
				flags[cmd.Name()] = append(flags[cmd.Name()], fl.Name)
			}
		})
	}
	return flags
}

// walkResult is what one run of the walk did.
type walkResult struct {
	out      string
	err      error // the process's error (an *exec.ExitError for a non-zero status)
	took     time.Duration
	timedOut bool
}

// runWalkCase runs args as the resnext binary (this test binary re-executed, see TestMain) in dir,
// in its own process group, killed with the group after walkLimit.
func runWalkCase(args []string, dir string) walkResult {
	ctx, cancel := context.WithTimeout(context.Background(), walkLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"--"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "RESNEXT_TEST_MAIN=1", "GOMAXPROCS=1", "RESNEXT_TEST_AS_LIMIT_MB=4096")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	return walkResult{out: out.String(), err: err, took: time.Since(start), timedOut: ctx.Err() != nil}
}

// check reports what is wrong with the run of c: a Go panic or runtime fatal error, a death by a
// signal, a run past walkLimit, or a refusal that is not one line.
func (r walkResult) check() string {
	for _, s := range []string{"panic:", "goroutine ", "fatal error"} {
		if strings.Contains(r.out, s) {
			return "printed " + strconv.Quote(s)
		}
	}
	if r.timedOut {
		return fmt.Sprintf("still running after %v (killed)", walkLimit)
	}
	var ee *exec.ExitError
	if errors.As(r.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "died of " + ws.Signal().String()
		}
		if i := strings.LastIndex(r.out, "resnext: "); i < 0 {
			return "failed without a resnext: error line"
		} else if rest := strings.TrimRight(r.out[i:], "\n"); strings.Contains(rest, "\n") && !strings.Contains(rest, "\n{") {
			return "refused with an error of several lines"
		}
	} else if r.err != nil {
		return r.err.Error()
	}
	return ""
}

// TestFlagWalk runs every command with each of its flags set to each hostile value (0, -1, NaN,
// Inf, 1e30, 99999999999, empty, 5000 bytes) on a tiny job, and fails on a Go panic, a runtime
// fatal error, a death by a signal, a run longer than walkLimit or a refusal of several lines.
// Each command line is parsed in this process first, and the keys of train, finetune and validate
// resolved: a value the flag parser or the configuration's validation refuses never reaches a run,
// and its refusal must be one line naming the flag. The rest run as processes of this binary,
// walkWorkers at a time.
func TestFlagWalk(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("uses process groups")
	}
	f := newWalkFixtures(t)
	var cases []walkCase
	inProcess := 0
	for command, flags := range walkFlags() {
		for _, fl := range flags {
			for _, v := range hostileValues {
				c := walkCase{command, fl, v}
				err := refusedInProcess(c.args(f, filepath.Join(f.dir, "never")))
				if err == nil {
					cases = append(cases, c)
					continue
				}
				inProcess++
				if msg := err.Error(); strings.Contains(msg, "\n") {
					t.Errorf("%v: refused with several lines: %q", c, msg)
				} else if !strings.Contains(msg, fl) {
					t.Errorf("%v: refusal %q does not name %s", c, msg, fl)
				}
			}
		}
	}

	start := time.Now()
	work := make(chan walkCase)
	var mu sync.Mutex
	var slowest walkCase
	var slowestTook time.Duration
	succeeded := map[string]int{}
	var wg sync.WaitGroup
	for range walkWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				dir, err := os.MkdirTemp(f.dir, "run")
				if err == nil {
					err = os.Mkdir(filepath.Join(dir, "out"), 0o755)
				}
				if err != nil {
					t.Error(err)
					continue
				}
				r := runWalkCase(c.args(f, filepath.Join(dir, "out")), dir)
				if msg := r.check(); msg != "" {
					t.Errorf("%v: %s after %v:\n%s", c, msg, r.took.Round(time.Millisecond), tail(r.out, 2000))
				}
				mu.Lock()
				if r.err == nil {
					succeeded[c.command]++
				}
				if r.took > slowestTook {
					slowest, slowestTook = c, r.took
				}
				mu.Unlock()
				os.RemoveAll(dir)
			}
		}()
	}
	for _, c := range cases {
		work <- c
	}
	close(work)
	wg.Wait()
	t.Logf("%d refused in process, %d run in %v (exit status 0: %v); slowest %v (%v)", inProcess, len(cases),
		time.Since(start).Round(time.Millisecond), succeeded, slowest, slowestTook.Round(time.Millisecond))
	// The base command lines must work, or the walk would only see them fail.
	for _, command := range []string{"train", "finetune", "validate", "predict", "bench", "convert", "plot", "msrun"} {
		if succeeded[command] == 0 {
			t.Errorf("%s: no run of the walk succeeded: is its base command line broken?", command)
		}
	}
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// TestRunMemoryRefused: a batch and image size whose activations cannot fit in the machine's memory
// ended in the runtime's out-of-memory crash; train and validate refuse them with an estimate.
func TestRunMemoryRefused(t *testing.T) {
	chdir(t)
	for _, command := range []string{"train", "validate"} {
		_, err := run(t, command, "--device_target", "CPU", "--batch_size", "65536", "--image_resize", "4096", "--ckpt_path", "none.ckpt")
		if err == nil || !strings.Contains(err.Error(), "--batch_size 65536 with --image_resize 4096: resnext14_small needs about") ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want one line with the memory estimate", command, err)
		}
	}
}
