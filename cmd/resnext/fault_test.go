package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/resnext"
)

// TestCorruptCheckpoint gives every command that reads weights a checkpoint cut short, emptied or with
// its header overwritten, in each format written here: each ends non-zero with one line naming the
// file, never a panic, and writes nothing.
func TestCorruptCheckpoint(t *testing.T) {
	dir := chdir(t)
	cfg, _ := resnext.Variant("resnext14_small")
	cfg.InChannels, cfg.NumClasses = 1, 10
	b := testutil.CPU(t, 1)
	folder := filepath.Join(dir, "folder")
	testutil.WriteImageFolder(t, folder, []string{"a", "b"}, 4, 16)
	var files []string
	for _, ext := range []string{".ckpt", ".safetensors"} {
		good := filepath.Join(dir, "good"+ext)
		savedModel(t, b, cfg, good)
		data, err := os.ReadFile(good)
		if err != nil {
			t.Fatal(err)
		}
		header := append([]byte(nil), data...)
		for i := range min(64, len(header)) {
			header[i] = byte(0xA5 ^ i*37)
		}
		for name, content := range map[string][]byte{"half": data[:len(data)/2], "empty": nil, "header": header} {
			path := filepath.Join(dir, name+ext)
			if err := os.WriteFile(path, content, 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, path)
		}
	}
	for _, path := range files {
		for _, args := range [][]string{
			{"validate", "--model", "resnext14_small", "--ckpt_path", path},
			{"train", "--epoch_size", "1", "--num_samples", "64", "--ckpt_path", path, "--resume_opt", "True", "--ckpt_save_dir", filepath.Join(dir, "out")},
			{"finetune", "--model", "resnext14_small", "--ckpt_path", path, "--data_dir", folder, "--device_target", "CPU", "--batch_size", "4", "--ckpt_save_dir", filepath.Join(dir, "out")},
			{"convert", path, filepath.Join(dir, "out", "converted.safetensors")},
		} {
			cmd := exec.Command(os.Args[0], append([]string{"--"}, args...)...)
			cmd.Env = append(os.Environ(), "RESNEXT_TEST_MAIN=1", "RESNEXT_TEST_AS_LIMIT_MB=4096")
			out, err := cmd.CombinedOutput()
			s := string(out)
			last := strings.TrimSpace(s[strings.LastIndex(strings.TrimRight(s, "\n"), "\n")+1:])
			if testing.Verbose() {
				t.Logf("%s %s: %s", args[0], filepath.Base(path), last)
			}
			switch {
			case err == nil:
				t.Errorf("%s %s: succeeded", args[0], filepath.Base(path))
			case strings.Contains(s, "panic:") || strings.Contains(s, "goroutine "):
				t.Errorf("%s %s: panicked:\n%s", args[0], filepath.Base(path), s)
			case !strings.HasPrefix(last, "resnext: ") || !strings.Contains(last, filepath.Base(path)):
				t.Errorf("%s %s: the last line does not name the file: %q", args[0], filepath.Base(path), last)
			}
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "out")); len(entries) > 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("written from corrupt checkpoints: %v", names)
	}
}

// TestConvertInterrupted sends SIGINT to convert while it writes: it ends with status 130 and
// leaves neither the output nor its temporary file, and a file it was replacing keeps its content
// and mode.
func TestConvertInterrupted(t *testing.T) {
	dir := chdir(t)
	cfg, _ := resnext.Variant("resnext101_64x4d")
	b := testutil.CPU(t, 2)
	in := filepath.Join(dir, "in.safetensors")
	savedModel(t, b, cfg, in)
	out := filepath.Join(dir, "out.ckpt")
	if err := os.WriteFile(out, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(os.Args[0], "--", "convert", in, out)
		cmd.Env = append(os.Environ(), "RESNEXT_TEST_MAIN=1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		caught := false
		var err error
	wait:
		for {
			select {
			case err = <-done:
				break wait
			case <-time.After(time.Millisecond):
				if m, _ := filepath.Glob(filepath.Join(dir, ".out.ckpt.tmp*")); len(m) > 0 && !caught {
					cmd.Process.Signal(os.Interrupt)
					caught = true
				}
			}
		}
		if !caught {
			if attempt == 3 {
				t.Fatalf("convert never showed its temporary file in 4 attempts (%v)", err)
			}
			os.WriteFile(out, []byte("old"), 0o640)
			continue
		}
		var e *exec.ExitError
		if !errors.As(err, &e) || e.ExitCode() != 130 {
			t.Errorf("convert after SIGINT: %v, want exit status 130", err)
		}
		break
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(m) > 0 {
		t.Errorf("left behind: %v", m)
	}
	got, err := os.ReadFile(out)
	info, _ := os.Stat(out)
	if err != nil || string(got) != "old" || info.Mode().Perm() != 0o640 {
		t.Errorf("the file convert was replacing: %q, mode %v, %v", got, info.Mode(), err)
	}
}

// TestSecondSignalStopsTrainAtOnce: a second SIGTERM while train stops after the first ends the
// process at once (status 143), leaving no temporary file; the checkpoints already written stay
// whole.
func TestSecondSignalStopsTrainAtOnce(t *testing.T) {
	dir := chdir(t)
	cmd := exec.Command(os.Args[0], "--", "train", "--epoch_size", "3", "--num_samples", "640", "--log_interval", "1",
		"--threads", "1", "--log_format", "json", "--model", "resnext26_small")
	cmd.Env = append(os.Environ(), "RESNEXT_TEST_MAIN=1")
	cmd.Dir = dir
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	sent := false
	for sc.Scan() {
		if !sent && strings.Contains(sc.Text(), `"msg":"train"`) && strings.Contains(sc.Text(), `"step":2,`) {
			cmd.Process.Signal(syscall.SIGTERM)
			time.Sleep(10 * time.Millisecond) // the first one's step is still under way
			cmd.Process.Signal(syscall.SIGTERM)
			sent = true
		}
	}
	err := cmd.Wait()
	var e *exec.ExitError
	if !errors.As(err, &e) || e.ExitCode() != 143 {
		t.Fatalf("exit %v after two SIGTERMs, want status 143", err)
	}
	var left []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, _ error) error {
		if strings.Contains(filepath.Base(path), ".tmp") {
			left = append(left, path)
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}
