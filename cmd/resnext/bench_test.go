package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/resnext/resnext/acl"
	"github.com/resnext/resnext/acl/testruntime"
	"github.com/resnext/resnext/ops/ascend"
	"github.com/resnext/resnext/resnext"
)

// checkBench checks a result's figures: all present, positive and consistent with one another.
func checkBench(t *testing.T, r map[string]any, mode string, batch, steps, imageSize int) {
	t.Helper()
	for _, k := range []string{"img_per_s", "ms_per_step", "ms_per_step_median", "ms_per_step_min", "ms_per_step_max",
		"peak_rss_bytes", "parameters"} {
		if v, ok := r[k].(float64); !ok || !(v > 0) {
			t.Errorf("%s: %s is %v, want a positive number", mode, k, r[k])
		}
	}
	if r["model"] != "resnext14_small" || r["mode"] != mode || r["batch_size"] != float64(batch) ||
		r["steps"] != float64(steps) || r["image_size"] != float64(imageSize) {
		t.Errorf("%s: the result does not echo the run: %v", mode, r)
	}
	if d, _ := r["device"].(string); d == "" {
		t.Errorf("%s: no device", mode)
	}
	imgs, mean := r["img_per_s"].(float64), r["ms_per_step"].(float64)
	if want := float64(batch) * 1000 / mean; math.Abs(imgs-want) > 0.01*want {
		t.Errorf("%s: img_per_s %v, but batch %d / %v ms per step is %v img/s", mode, imgs, batch, mean, want)
	}
	lo, med, hi := r["ms_per_step_min"].(float64), r["ms_per_step_median"].(float64), r["ms_per_step_max"].(float64)
	if !(lo <= med && med <= hi && lo <= mean && mean <= hi) {
		t.Errorf("%s: min %v, median %v, mean %v, max %v are out of order", mode, lo, med, mean, hi)
	}
	if rss := r["peak_rss_bytes"].(float64); rss < 1<<20 {
		t.Errorf("%s: peak RSS %v bytes: less than a MiB, the units are wrong", mode, rss)
	}
	if _, ok := r["loss"]; ok != (mode == "train") {
		t.Errorf("%s: loss %v", mode, r["loss"])
	}
}

// TestBenchJSON runs bench through the command line in both modes on a small model and checks the
// JSON it prints.
func TestBenchJSON(t *testing.T) {
	cfg, _ := resnext.Variant("resnext14_small")
	if cfg.InChannels != 1 {
		t.Fatalf("resnext14_small takes %d channels; the test expects 28x28 grey-scale images", cfg.InChannels)
	}
	for _, mode := range []string{"infer", "train"} {
		out, err := run(t, "bench", "--model", "resnext14_small", "--image_size", "28", "--batch_size", "4", "--mode", mode,
			"--warmup", "1", "--steps", "2", "--device_target", "CPU", "--threads", "2", "--json")
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if n := strings.Count(strings.TrimSpace(out), "\n"); n != 0 {
			t.Errorf("%s: want one line of JSON, got %d lines: %q", mode, n+1, out)
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%s: %v: %q", mode, err, out)
		}
		checkBench(t, r, mode, 4, 2, 28)
		if _, ok := r["host_ms_per_step"]; ok {
			t.Errorf("%s: host time reported on the CPU", mode)
		}
	}
}

// TestBenchTable checks the human-readable report.
func TestBenchTable(t *testing.T) {
	out, err := run(t, "bench", "--model", "resnext14_small", "--image_size", "28", "--batch_size", "2", "--mode", "train",
		"--warmup", "0", "--steps", "1", "--device_target", "CPU")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"resnext14_small", "img/s", "ms/step", "median", "peak RSS", "cpu", "last loss"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}

// TestBenchErrors checks that bad flags are refused with one clear line.
func TestBenchErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", "resnext51"}, "known models are resnet50, resnext101_32x4d"},
		{[]string{"--batch_size", "0"}, "--batch_size 0"},
		{[]string{"--steps", "-1"}, "--steps -1"},
		{[]string{"--warmup", "-1"}, "--warmup -1"},
		{[]string{"--image_size", "0"}, "--image_size 0"},
		{[]string{"--mode", "eval"}, `--mode "eval": want infer, train or data`},
		{[]string{"--device_target", "GPU"}, "want Ascend, CPU or auto"},
		// Sizes that reached the allocator (a makeslice panic, an out-of-memory crash) or batch norm's
		// one value per channel (a Go panic) are refused up front, naming the flag and the limit.
		{[]string{"--image_size", "1000000000"}, "--image_size 1000000000: want pixels from 1 to 4096"},
		{[]string{"--batch_size", "1000000000"}, "--batch_size 1000000000: want images per step from 1 to 65536"},
		{[]string{"--steps", "99999999999"}, "--steps 99999999999: want timed steps from 1 to 1000000"},
		{[]string{"--warmup", "99999999999"}, "--warmup 99999999999"},
		{[]string{"--threads", "99999999"}, "--threads 99999999: want CPU threads (0: all cores) from 0 to 4096"},
		{[]string{"--bucket_cap_mb", "NaN"}, "--bucket_cap_mb NaN: want a number in (0, 65536]"},
		{[]string{"--mode", "train", "--batch_size", "1", "--image_size", "8"}, "--batch_size 1 with --image_size 8: want at least 2 in --mode train"},
		{[]string{"--mode", "train", "--batch_size", "65536", "--image_size", "4096"}, "needs about"},
	} {
		_, err := run(t, append([]string{"bench", "--model", "resnext14_small", "--image_size", "28", "--steps", "1"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line with %q", c.args, err, c.want)
		}
	}
}

// TestBenchAscend runs bench on the Ascend backend against the test runtime (on 12x12 images, as
// its reference kernels are slow): the host time per step is reported, no longer than the step,
// and progress is logged.
func TestBenchAscend(t *testing.T) {
	if _, err := acl.LoadDir(t.TempDir()); errors.Is(err, acl.ErrNoCgo) {
		t.Skip("the Ascend backend needs a cgo build")
	}
	dir := testruntime.Build(t)
	lib, err := acl.LoadDir(dir)
	if err != nil {
		t.Skipf("the Ascend backend is not available: %v", err)
	}
	b, err := ascend.New(ascend.Options{Device: 0, Lib: lib})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	core, logs := observer.New(zap.InfoLevel)
	o := benchOptions{model: "resnext14_small", mode: "train", batchSize: 2, steps: 2, warmup: 1, imageSize: 12,
		progressEvery: time.Nanosecond}
	res, err := benchOn(b, o, nil, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(res)
	t.Logf("%s", raw)
	var r map[string]any
	json.Unmarshal(raw, &r)
	checkBench(t, r, "train", 2, 2, 12)
	if res.Backend != "ascend" || res.HostMsPerStep == nil || res.HostMsPerStepMedian == nil {
		t.Fatalf("no host time on Ascend: %s", raw)
	}
	if h := *res.HostMsPerStep; !(h > 0 && h <= res.MsPerStep) {
		t.Errorf("host %v ms per step, step %v ms", h, res.MsPerStep)
	}
	var table bytes.Buffer
	if err := printBench(&table, res); err != nil || !strings.Contains(table.String(), "host ms/step") {
		t.Errorf("the report lacks the host time (%v):\n%s", err, table.String())
	}
	if n := logs.FilterMessage("step").Len(); n != 3 {
		t.Errorf("%d progress lines, want one per step (3)", n)
	}
}

// TestBenchAscendHostTimeFlags runs bench on the Ascend backend against the test runtime in timing
// mode, as each chip: the 910B replays a captured step, the first-generation 910 cannot capture and
// says why, and each host-time measure can be turned off and is reported.
func TestBenchAscendHostTimeFlags(t *testing.T) {
	if _, err := acl.LoadDir(t.TempDir()); errors.Is(err, acl.ErrNoCgo) {
		t.Skip("the Ascend backend needs a cgo build")
	}
	dir := testruntime.Build(t)
	base := []string{"bench", "--device_target", "Ascend", "--mode", "train", "--model", "resnext14_small",
		"--image_size", "12", "--batch_size", "2", "--steps", "3", "--warmup", "1", "--json"}
	for _, c := range []struct {
		soc   string
		flags []string
		want  string // the expected flags and capture, as JSON fields
	}{
		{"Ascend910B1", nil, `"graph_capture":true,"executor_cache":true,"fused_optimizer":true`},
		{"Ascend910B1", []string{"--graph_capture=false", "--executor_cache=false", "--fused_optimizer=false"},
			`"graph_capture":false,"executor_cache":false,"fused_optimizer":false`},
		{"Ascend910A", nil, `"graph_capture":false,"capture_unavailable":"ascend: graph capture on Ascend910A`},
	} {
		cmd := exec.Command(os.Args[0], append(append([]string{"--"}, base...), c.flags...)...)
		cmd.Env = append(os.Environ(), "RESNEXT_TEST_MAIN=1", "RESNEXT_ACL_LIB_DIR="+dir, "RESNEXT_TESTRT_TIMING=1",
			"RESNEXT_TESTRT_SOC="+c.soc, "RESNEXT_TESTRT_ABORT=1")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %v: %v\n%s", c.soc, c.flags, err, stderr.String())
		}
		if !strings.Contains(stdout.String(), c.want) || !strings.Contains(stdout.String(), `"host_ms_per_step_median"`) {
			t.Errorf("%s %v: %s\nwant %s in it", c.soc, c.flags, stdout.String(), c.want)
		}
	}
}

// A command that used Ascend finalises its runtime once before the process exits (the test
// runtime logs aclFinalize to RESNEXT_TESTRT_FINALIZE_LOG); one that did not use it leaves it
// alone.
func TestAscendFinalizedBeforeExit(t *testing.T) {
	if _, err := acl.LoadDir(t.TempDir()); errors.Is(err, acl.ErrNoCgo) {
		t.Skip("the Ascend backend needs a cgo build")
	}
	dir := testruntime.Build(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--device_target", "Ascend", "--model", "resnext14_small", "--image_size", "12",
			"--batch_size", "1", "--steps", "1", "--warmup", "0"}, "aclFinalize\n"},
		{[]string{"bench", "--device_target", "CPU", "--model", "resnext14_small", "--image_size", "12",
			"--batch_size", "1", "--steps", "1", "--warmup", "0"}, ""},
	} {
		log := filepath.Join(t.TempDir(), "finalize.log")
		cmd := exec.Command(os.Args[0], append([]string{"--"}, c.args...)...)
		cmd.Env = append(os.Environ(), "RESNEXT_TEST_MAIN=1", "RESNEXT_ACL_LIB_DIR="+dir, "RESNEXT_TESTRT_FINALIZE_LOG="+log)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c.args, err, out)
		}
		got, _ := os.ReadFile(log)
		if string(got) != c.want {
			t.Errorf("%v: the runtime logged %q, want %q", c.args[:3], got, c.want)
		}
	}
}
