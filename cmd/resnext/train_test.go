package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/resnext/resnext/ckpt"
	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/ops/cpu"
	"github.com/resnext/resnext/resnext"
	"github.com/resnext/resnext/train/metrics"
)

// TestMain lets a test run this binary's main as the command itself (RESNEXT_TEST_MAIN=1 with the
// command line after "--"), to send it real signals.
func TestMain(m *testing.M) {
	if os.Getenv("RESNEXT_TEST_MAIN") == "1" {
		limitAddressSpace()
		for i, a := range os.Args {
			if a == "--" {
				os.Args = append([]string{"resnext"}, os.Args[i+1:]...)
				break
			}
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// chdir runs the test in a fresh directory (MindCV's configs write to ./ckpt).
func chdir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	return dir
}

// repoFile is the path of a file of the repository from this package's directory.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(wd, "..", "..", rel)
}

func TestTrainDefaultJob(t *testing.T) {
	dir := chdir(t)
	out, err := run(t, "train", "--epoch_size", "1", "--decay_epochs", "1", "--warmup_epochs", "0", "--num_samples", "1024",
		"--threads", "2")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "test top-1") {
		t.Errorf("train printed %q: want the test accuracy", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "runs", "fashion_mnist", "resnext14_small-1_16.ckpt")); err != nil {
		t.Error(err)
	}
	// validate with the run's checkpoint, as JSON.
	out, err = run(t, "validate", "--ckpt_path", "runs/fashion_mnist/resnext14_small-1_16.ckpt", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Top1, Top5, Loss float64
		Images           int
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("validate --json printed %q: %v", out, err)
	}
	if res.Images != 500 || res.Top1 <= 0.15 || res.Top5 < res.Top1 || res.Loss <= 0 {
		t.Errorf("validate: %+v", res)
	}
}

// TestSeedCommandLines runs the seed's train and validate command lines verbatim, with only the
// device and size overrides, on a small ImageFolder.
func TestSeedCommandLines(t *testing.T) {
	if testing.Short() {
		t.Skip("ResNeXt-50 on the CPU")
	}
	cfg := repoFile(t, "configs/resnext/resnext50_32x4d_ascend.yaml")
	dir := chdir(t)
	classes := []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}
	testutil.WriteImageFolder(t, filepath.Join(dir, "imagenet"), classes, 1, 40)
	small := []string{"--device_target", "CPU", "--epoch_size", "1", "--batch_size", "5", "--num_classes", "10", "--image_resize", "64"}

	// msrun's worker command: distribute True from the file, one worker without a launcher.
	if _, err := run(t, append([]string{"train", "--config", cfg, "--data_dir", "imagenet"}, small...)...); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, append([]string{"train", "--config", cfg, "--data_dir", "imagenet", "--distribute", "False", "--ckpt_save_dir", "ckpt2"}, small...)...); err != nil {
		t.Fatal(err)
	}
	ck := filepath.Join("ckpt", "resnext50_32x4d-1_2.ckpt")
	if _, err := os.Stat(ck); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, append([]string{"validate", "-c", cfg, "--data_dir", "imagenet", "--ckpt_path", ck}, small...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "images 10") {
		t.Errorf("validate printed %q", out)
	}
}

// TestFinetuneToFolderClasses fine-tunes torchvision-named resnext50_32x4d weights on a 10-class
// folder; predict with the result prints the folder's class names.
func TestFinetuneToFolderClasses(t *testing.T) {
	if testing.Short() {
		t.Skip("ResNeXt-50 on the CPU")
	}
	dir := chdir(t)
	classes := []string{"daisy", "dandelion", "lily", "orchid", "peony", "poppy", "rose", "sunflower", "tulip", "violet"}
	testutil.WriteImageFolder(t, filepath.Join(dir, "flowers"), classes, 1, 40)
	// A torchvision-named checkpoint: the model's tensors under torchvision's names.
	b := cpu.New(cpu.Options{Threads: 2})
	defer b.Close()
	cfg, _ := resnext.Variant("resnext50_32x4d")
	m, err := resnext.New(b, cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ckpt.FromParams(m.Params(), b)
	m.Free()
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(c.Tensors))
	for i, tt := range c.Tensors {
		names[i] = tt.Name
	}
	for i, n := range ckpt.TorchNames(names) {
		c.Tensors[i].Name = n
	}
	if err := c.Write("resnext50_32x4d_torchvision.safetensors"); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "finetune", "--model", "resnext50_32x4d", "--ckpt_path", "resnext50_32x4d_torchvision.safetensors",
		"--data_dir", "flowers", "--device_target", "CPU", "--epoch_size", "1", "--batch_size", "5", "--image_resize", "64",
		"--freeze_backbone", "True", "--trainable_stages", "1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "test top-1") {
		t.Errorf("finetune printed %q", out)
	}
	got, err := filepath.Glob(filepath.Join("ckpt_finetune", "resnext50_32x4d-1_2.ckpt"))
	if err != nil || len(got) != 1 {
		t.Fatalf("finetune checkpoints %v (%v)", got, err)
	}
	out, err = run(t, "predict", "--model", "resnext50_32x4d", "--ckpt_path", got[0], "--device_target", "CPU",
		"--image_size", "64", "--topk", "3", filepath.Join("flowers", "val", "tulip"))
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, name := range classes {
		if strings.Contains(out, name) {
			found++
		}
	}
	if found < 3 {
		t.Errorf("predict printed %q: want three of the folder's class names", out)
	}
}

// TestKilledRunResumes kills a training process with SIGKILL in its second epoch, resumes it from
// the checkpoint of the first, and checks that the resumed run starts at that checkpoint's global
// step and learning rate with its momentum, and ends with the weights of a run never killed.
func TestKilledRunResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the command three times")
	}
	dir := chdir(t)
	args := []string{"train", "--epoch_size", "3", "--decay_epochs", "3", "--warmup_epochs", "1", "--num_samples", "640",
		"--batch_size", "32", "--val_while_train", "False", "--log_interval", "1", "--threads", "1", "--keep_checkpoint_max", "5"}
	command := func(extra ...string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], append(append([]string{"--"}, args...), extra...)...)
		cmd.Env = append(os.Environ(), "RESNEXT_TEST_MAIN=1")
		cmd.Dir = dir
		return cmd
	}
	// The reference: a run never interrupted.
	if out, err := command("--ckpt_save_dir", "whole", "--log_format", "json").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// The killed run: SIGKILL once the second epoch has logged a few steps.
	cmd := command("--ckpt_save_dir", "ckpt", "--log_format", "json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	killed := false
	for sc.Scan() {
		var line struct {
			Msg   string
			Epoch int
			Step  int
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "train" && line.Epoch == 2 && line.Step >= 5 {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
			break
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatal("the run ended before it could be killed in its second epoch")
	}
	first := filepath.Join("ckpt", "resnext14_small-1_20.ckpt")
	saved, err := ckpt.Read(first)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := metrics.Read(filepath.Join("ckpt", "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if last := recs[len(recs)-1]; last.Step <= 20 {
		t.Fatalf("the killed run's metrics end at step %d: want the second epoch", last.Step)
	}

	start := time.Now()
	out, err := command("--ckpt_save_dir", "ckpt", "--log_format", "json", "--ckpt_path", first, "--resume_opt", "True").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var resumed struct {
		GlobalStep int     `json:"global_step"`
		Epoch      int     `json:"epoch"`
		LR         float64 `json:"lr"`
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.Contains(line, `"msg":"resumed"`) {
			json.Unmarshal([]byte(line), &resumed)
		}
	}
	lrs, _ := saved.ExtraTensor("learning_rate")
	wantLR := float64(float32frombits(lrs.Data[4*20:]))
	if resumed.GlobalStep != 20 || resumed.Epoch != 2 || abs(resumed.LR-wantLR) > 1e-6 {
		t.Errorf("resumed at %+v: want global step 20, epoch 2, lr %g (after %v)", resumed, wantLR, time.Since(start))
	}
	// The loss curve continues: the metrics file goes on from step 20, never back.
	recs, err = metrics.Read(filepath.Join("ckpt", "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	prev := 0
	for _, r := range recs {
		if r.Kind == "train" {
			if r.Step < prev {
				t.Fatalf("the metrics go back from step %d to %d", prev, r.Step)
			}
			prev = r.Step
		}
	}
	if prev != 60 {
		t.Errorf("metrics end at step %d, want 60", prev)
	}
	// Momentum and weights: the resumed run ends where the uninterrupted one did, bit for bit.
	a, err := ckpt.Read(filepath.Join("whole", "resnext14_small-3_20.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	bck, err := ckpt.Read(filepath.Join("ckpt", "resnext14_small-3_20.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, list := range [][2][]ckpt.Tensor{{a.Tensors, bck.Tensors}, {a.Extra, bck.Extra}} {
		for i, x := range list[0] {
			y := list[1][i]
			if x.Name != y.Name || string(x.Data) != string(y.Data) {
				t.Fatalf("%s differs between the resumed run and the uninterrupted one", x.Name)
			}
		}
	}
}

// TestInterruptWritesCheckpoint sends SIGTERM to a training process: it writes a checkpoint of
// where it stopped and exits with status 130.
func TestInterruptWritesCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the command")
	}
	dir := chdir(t)
	cmd := exec.Command(os.Args[0], "--", "train", "--epoch_size", "2", "--num_samples", "640", "--log_interval", "1",
		"--threads", "1", "--log_format", "json")
	cmd.Env = append(os.Environ(), "RESNEXT_TEST_MAIN=1")
	cmd.Dir = dir
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var log []string
	for sc.Scan() {
		log = append(log, sc.Text())
		if strings.Contains(sc.Text(), `"msg":"train"`) && strings.Contains(sc.Text(), `"step":3,`) {
			cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want status 130\n%s", err, strings.Join(log, "\n"))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "runs", "fashion_mnist", "resnext14_small-1_*.ckpt"))
	if len(files) != 1 {
		t.Fatalf("checkpoints after SIGTERM: %v", files)
	}
	tail := log[len(log)-1]
	if !strings.Contains(tail, "--resume_opt True") {
		t.Errorf("the last line does not say how to resume: %s", tail)
	}
}

func float32frombits(b []byte) float32 {
	return math.Float32frombits(binary.LittleEndian.Uint32(b))
}

func abs(v float64) float64 { return math.Abs(v) }
