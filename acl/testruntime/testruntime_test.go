package testruntime

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// buildProgram compiles testdata/<name>.c against the library in dir.
func buildProgram(t *testing.T, dir, name string, link bool) string {
	t.Helper()
	cc, err := Compiler()
	if err != nil {
		t.Skip(err)
	}
	exe := filepath.Join(dir, strings.TrimSuffix(name, ".c"))
	args := []string{"-std=gnu11", "-Wall", "-Wextra", "-Werror", "-I", filepath.Join(dir, SrcDir), "-o", exe,
		filepath.Join("testdata", name)}
	if link {
		args = append(args, "-L", dir, "-lascendcl", "-Wl,-rpath,"+dir)
	}
	args = append(args, "-lpthread", "-ldl", "-lm")
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("compiling %s: %v\n%s", name, err, out)
	}
	return exe
}

type result struct {
	stdout, stderr string
	code           int
	aborted        bool
}

func run(t *testing.T, exe string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGABRT {
			r.aborted = true
		}
	default:
		t.Fatalf("running %s %v: %v", exe, args, err)
	}
	return r
}

func TestLibraryBuildsWithoutWarnings(t *testing.T) {
	if _, err := Compiler(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	diag, err := BuildInto(dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(diag) != "" {
		t.Errorf("the compiler printed diagnostics:\n%s", diag)
	}
	for _, name := range LibNames {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestExportedSymbols(t *testing.T) {
	dir := Build(t)
	nm, err := exec.LookPath("nm")
	if err != nil {
		t.Skip("nm not found")
	}
	out, err := exec.Command(nm, "-D", "--defined-only", filepath.Join(dir, LibNames[0])).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[1] == "T" {
			got[f[2]] = true
		}
	}
	want := strings.Fields(`aclInit aclFinalize aclGetRecentErrMsg aclrtSetDevice aclrtResetDevice aclrtGetDevice
		aclrtGetDeviceCount aclrtCreateContext aclrtDestroyContext aclrtSetCurrentContext aclrtCreateStream
		aclrtDestroyStream aclrtSynchronizeStream aclrtSynchronizeDevice aclrtCreateEvent aclrtRecordEvent
		aclrtSynchronizeEvent aclrtDestroyEvent aclrtMalloc aclrtFree aclrtMallocHost aclrtFreeHost aclrtMemcpy
		aclrtMemcpyAsync aclrtMemset aclrtMemsetAsync aclrtGetMemInfo
		aclCreateTensor aclDestroyTensor aclCreateScalar aclDestroyScalar aclCreateIntArray aclDestroyIntArray
		aclCreateBoolArray aclDestroyBoolArray aclCreateFloatArray aclDestroyFloatArray
		aclSetAclOpExecutorRepeatable aclDestroyAclOpExecutor aclSetInputTensorAddr aclSetOutputTensorAddr
		aclSetRawTensorAddr
		aclnnAddGetWorkspaceSize aclnnAdd aclnnMulsGetWorkspaceSize aclnnMuls aclnnReluGetWorkspaceSize aclnnRelu
		aclnnCastGetWorkspaceSize aclnnCast
		aclnnConvolutionGetWorkspaceSize aclnnConvolution aclnnConvolutionBackwardGetWorkspaceSize
		aclnnConvolutionBackward aclnnBatchNormGetWorkspaceSize aclnnBatchNorm aclnnBatchNormBackwardGetWorkspaceSize
		aclnnBatchNormBackward aclnnThresholdBackwardGetWorkspaceSize aclnnThresholdBackward
		aclnnMaxPool2dWithMaskGetWorkspaceSize aclnnMaxPool2dWithMask
		aclnnMaxPool2dWithMaskBackwardGetWorkspaceSize aclnnMaxPool2dWithMaskBackward
		aclnnMeanGetWorkspaceSize aclnnMean aclnnReduceSumGetWorkspaceSize aclnnReduceSum aclnnMmGetWorkspaceSize aclnnMm
		aclnnLogSoftmaxGetWorkspaceSize aclnnLogSoftmax aclnnLogSoftmaxBackwardGetWorkspaceSize aclnnLogSoftmaxBackward
		aclnnNLLLossGetWorkspaceSize aclnnNLLLoss aclnnNLLLossBackwardGetWorkspaceSize aclnnNLLLossBackward
		aclnnInplaceAddGetWorkspaceSize aclnnInplaceAdd aclnnInplaceAddsGetWorkspaceSize aclnnInplaceAdds
		aclnnInplaceMulsGetWorkspaceSize aclnnInplaceMuls aclnnMulGetWorkspaceSize aclnnMul
		aclnnInplaceFillScalarGetWorkspaceSize aclnnInplaceFillScalar aclnnEqScalarGetWorkspaceSize aclnnEqScalar
		aclnnInplaceCopyGetWorkspaceSize aclnnInplaceCopy aclrtGetSocName
		aclnnInplaceRsqrtGetWorkspaceSize aclnnInplaceRsqrt aclnnInplaceReciprocalGetWorkspaceSize aclnnInplaceReciprocal
		aclmdlRICaptureBegin aclmdlRICaptureEnd aclmdlRIExecuteAsync aclmdlRIDestroy
		aclrtStreamWaitEvent aclrtResetEvent
		HcclGetRootInfo HcclCommInitRootInfo HcclCommInitClusterInfo HcclAllReduce HcclBroadcast HcclBarrier
		HcclCommDestroy HcclGetRankSize HcclGetRankId HcclGetErrorString
		testrt_violations testrt_last_violation testrt_reset testrt_device_bytes_in_use testrt_pending_tasks
		testrt_graph_tasks`)
	for _, name := range want {
		if !got[name] {
			t.Errorf("%s is not exported", name)
		}
		delete(got, name)
	}
	for name := range got {
		t.Errorf("%s is exported but is neither a CANN symbol of the subset nor a testrt_ one", name)
	}
}

// The correct sequence runs as the first-generation 910 (the default), which refuses graph capture,
// and as a 910B, which captures and replays.
func TestCorrectSequence(t *testing.T) {
	dir := Build(t)
	exe := buildProgram(t, dir, "scenarios.c", true)
	for _, soc := range []string{"Ascend910A", "Ascend910B1"} {
		// Under RESNEXT_TESTRT_ABORT=1 any violation in the correct sequence would abort it.
		r := run(t, exe, []string{"RESNEXT_TESTRT_ABORT=1", "RESNEXT_TESTRT_SOC=" + soc}, "ok")
		if r.code != 0 || strings.TrimSpace(r.stdout) != "ok" {
			t.Errorf("%s: exit %d\nstdout: %s\nstderr: %s", soc, r.code, r.stdout, r.stderr)
		}
	}
}

func TestLoadedByCANNNames(t *testing.T) {
	dir := Build(t)
	exe := buildProgram(t, dir, "dlopen.c", false)
	r := run(t, exe, nil, dir)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "ok" {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

// Every broken call: the scenario name in testdata/scenarios.c and a phrase of the message the
// runtime must record.
var violations = []struct{ scenario, message string }{
	{"host_tensor", "is not device memory"},
	{"host_memcpy", "is not device memory"},
	{"host_workspace", "workspace"},
	{"view_outside", "runs outside its storage"},
	{"storage_outside", "past the end of its device block"},
	{"workspace_small", "is smaller than the"},
	{"workspace_null", "workspace is NULL"},
	{"executor_twice", "already launched once and is not repeatable"},
	{"executor_wrong_op", "was made by aclnnReluGetWorkspaceSize"},
	{"free_tensor_pending", "still used by a task queued"},
	{"free_workspace_pending", "still used by a task queued"},
	{"memcpy_pending", "still used by a task queued"},
	{"destroy_stream_pending", "still has queued tasks"},
	{"before_init", "before aclInit"},
	{"no_device", "no current context on this OS thread"},
	{"other_thread", "no current context on this OS thread"},
	{"wrong_context", "belongs to context"},
	{"stream_destroyed", "used after aclrtDestroyStream"},
	{"event_destroyed", "used after aclrtDestroyEvent"},
	{"memcpy_destmax", "larger than destMax"},
	{"conv_output_shape", "output has shape [1,2,4,4], expected [1,2,2,2]"},
	{"conv_backward_mask", "outputMask[1] is true but gradWeight is NULL"},
	{"batch_norm_channels", "weight has shape [4], expected [3]"},
	{"batch_norm_backward_mask", "outputMask[1] is true but gradWeight is NULL"},
	{"threshold_backward_shape", "out has shape [3], expected [4]"},
	{"max_pool_mask_shape", "indices has shape [1,1,4,32], expected [1,1,4,64]"},
	{"max_pool_mask_dtype", "indices has dtype uint8; the mask is INT8"},
	{"max_pool_backward_mask", "indices has shape [1,1,2,64], expected [1,1,4,64]"},
	{"max_pool_padding", "padding[0] = 2 must be in [0, kernelSize/2 = 1]"},
	{"mm_inner_dims", "the inner dimensions differ (3 and 4)"},
	{"nll_loss_target_dtype", "target has dtype float32; class indices are INT64, INT32 or UINT8"},
	{"nll_loss_weight_null", "weight is NULL"},
	{"inplace_copy_broadcast", "src [4] does not broadcast to selfRef [2,3]"},
	{"capture_default_stream", "the default stream cannot be captured"},
	{"capture_twice", "is already capturing"},
	{"capture_end_not_capturing", "is not capturing"},
	{"capture_end_other_thread", "began on another thread"},
	{"capture_sync_stream", "cannot be synchronized or destroyed"},
	{"capture_sync_device", "aclrtSynchronizeDevice: stream"},
	{"capture_sync_event", "was recorded into the capture"},
	{"capture_memcpy_global", "capturing in GLOBAL mode (refused on every thread)"},
	{"capture_memset_thread_local", "capturing in THREAD_LOCAL mode on this thread"},
	{"capture_destroy_stream", "aclrtDestroyStream: stream"},
	{"capture_free_graph_memory", "a graph's memory must stay allocated until aclmdlRIDestroy"},
	{"capture_replay_destroyed", "used after aclmdlRIDestroy"},
	{"capture_destroy_unknown", "is not a graph from aclmdlRICaptureEnd"},
	{"capture_replay_other_context", "was captured in context"},
	{"wait_event_never_recorded", "was never recorded"},
	{"hccl_rank_out_of_range", "rank 2 is out of range for nRanks 2"},
	{"hccl_bad_root_info", "was not made by HcclGetRootInfo"},
	{"hccl_host_pointer", "is not device memory"},
	{"hccl_use_after_destroy", "used after HcclCommDestroy"},
	{"hccl_destroy_pending", "are queued and have not run"},
	{"hccl_stream_other_context", "belongs to context"},
	{"hccl_stream_other_device", "is on device 1 but the communicator belongs to device 0"},
}

// scenarioEnv is the environment a scenario runs in: the capture scenarios run as a 910B, since the
// first-generation 910 (the test runtime's default chip) has no graph capture.
func scenarioEnv(scenario string, env ...string) []string {
	if strings.HasPrefix(scenario, "capture_") {
		env = append(env, "RESNEXT_TESTRT_SOC=Ascend910B1")
	}
	if strings.HasPrefix(scenario, "hccl_stream_other_device") {
		env = append(env, "RESNEXT_TESTRT_DEVICES=2")
	}
	return env
}

func TestContractViolations(t *testing.T) {
	dir := Build(t)
	exe := buildProgram(t, dir, "scenarios.c", true)
	listed := strings.Fields(run(t, exe, nil, "list").stdout)
	if len(listed) != len(violations)+1 {
		t.Errorf("scenarios.c has %d scenarios, the test knows %d violations and ok", len(listed), len(violations))
	}
	for _, v := range violations {
		t.Run(v.scenario, func(t *testing.T) {
			// The call fails with its code, the message is recorded and counted once.
			r := run(t, exe, scenarioEnv(v.scenario), v.scenario)
			if r.code != 0 || !strings.Contains(r.stdout, "caught: ") || !strings.Contains(r.stdout, v.message) {
				t.Errorf("not caught: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			// With RESNEXT_TESTRT_ABORT=1 the runtime prints the message and aborts in the call.
			r = run(t, exe, scenarioEnv(v.scenario, "RESNEXT_TESTRT_ABORT=1"), v.scenario)
			if !r.aborted || !strings.Contains(r.stderr, "testrt: contract violation: ") ||
				!strings.Contains(r.stderr, v.message) {
				t.Errorf("did not abort: exit %d aborted %v\nstdout: %s\nstderr: %s", r.code, r.aborted, r.stdout,
					r.stderr)
			}
		})
	}
}

// Timing mode (RESNEXT_TESTRT_TIMING=1): kernels do not compute, copies and memsets do, and
// fresh memory is zero instead of NaN.
func TestTimingModeSkipsKernels(t *testing.T) {
	dir := Build(t)
	exe := buildProgram(t, dir, "timing.c", true)
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"RESNEXT_TESTRT_TIMING=0"}, "fill ff\nrelu 0 2 0 4\ncopy -1 2 -3 4\nmemset 3.00392 3.00392 3.00392 3.00392\n"},
		{[]string{"RESNEXT_TESTRT_TIMING=1", "RESNEXT_TESTRT_WORKSPACE_US=0", "RESNEXT_TESTRT_LAUNCH_US=0"},
			"fill 00\nrelu 0 0 0 0\ncopy -1 2 -3 4\nmemset 3.00392 3.00392 3.00392 3.00392\n"},
	} {
		r := run(t, exe, append([]string{"RESNEXT_TESTRT_ABORT=1"}, c.env...), "values")
		if r.code != 0 || r.stdout != c.want {
			t.Errorf("%v: exit %d\nstdout:\n%s\nwant:\n%s\nstderr: %s", c.env, r.code, r.stdout, c.want, r.stderr)
		}
	}
	// A replayed graph's kernels are skipped too.
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"RESNEXT_TESTRT_TIMING=0"}, "relu 0 2 0 4\n"},
		{[]string{"RESNEXT_TESTRT_TIMING=1", "RESNEXT_TESTRT_WORKSPACE_US=0", "RESNEXT_TESTRT_LAUNCH_US=0"}, "relu 0 0 0 0\n"},
	} {
		r := run(t, exe, append([]string{"RESNEXT_TESTRT_ABORT=1", "RESNEXT_TESTRT_SOC=Ascend910B1"}, c.env...), "replay", "3")
		if _, relu, _ := strings.Cut(r.stdout, "\n"); r.code != 0 || relu != c.want {
			t.Errorf("replay %v: exit %d\nstdout:\n%s\nwant relu:\n%s\nstderr: %s", c.env, r.code, r.stdout, c.want, r.stderr)
		}
	}
}

// Every contract check still fires in timing mode.
func TestTimingModeKeepsContractChecks(t *testing.T) {
	dir := Build(t)
	exe := buildProgram(t, dir, "scenarios.c", true)
	for _, v := range violations {
		r := run(t, exe, scenarioEnv(v.scenario, "RESNEXT_TESTRT_TIMING=1", "RESNEXT_TESTRT_WORKSPACE_US=0",
			"RESNEXT_TESTRT_LAUNCH_US=0"), v.scenario)
		if r.code != 0 || !strings.Contains(r.stdout, "caught: ") || !strings.Contains(r.stdout, v.message) {
			t.Errorf("%s not caught in timing mode: exit %d\nstdout: %s\nstderr: %s", v.scenario, r.code, r.stdout,
				r.stderr)
		}
	}
}

// elapsedUS runs the timing program's workspace or launch command and returns the microseconds it
// measured.
func elapsedUS(t *testing.T, exe string, env []string, args ...string) float64 {
	t.Helper()
	r := run(t, exe, env, args...)
	var us float64
	if _, err := fmt.Sscanf(r.stdout, "us %g", &us); r.code != 0 || err != nil {
		t.Fatalf("%v %v: exit %d (%v)\nstdout: %s\nstderr: %s", env, args, r.code, err, r.stdout, r.stderr)
	}
	return us
}

// Each GetWorkspaceSize charges RESNEXT_TESTRT_WORKSPACE_US and each launch RESNEXT_TESTRT_LAUNCH_US,
// each only its own, and only in timing mode.
func TestTimingModeChargesHostCost(t *testing.T) {
	dir := Build(t)
	exe := buildProgram(t, dir, "timing.c", true)
	const n = 50
	on := []string{"RESNEXT_TESTRT_TIMING=1"}
	// Lower bounds: the busy-wait cannot end early, whatever the machine's load.
	if us := elapsedUS(t, exe, append(on, "RESNEXT_TESTRT_WORKSPACE_US=200", "RESNEXT_TESTRT_LAUNCH_US=0"),
		"workspace", "50"); us < n*200 {
		t.Errorf("%d GetWorkspaceSize calls at 200 us took %.0f us", n, us)
	}
	if us := elapsedUS(t, exe, append(on, "RESNEXT_TESTRT_WORKSPACE_US=0", "RESNEXT_TESTRT_LAUNCH_US=200"),
		"launch", "50"); us < n*200 {
		t.Errorf("%d launches at 200 us took %.0f us", n, us)
	}
	// A graph replay is charged one launch, not one per kernel it holds (10): 10 replays at 50 ms
	// take 0.5 s, where a charge per kernel would take 5 s.
	if us := elapsedUS(t, exe, append(on, "RESNEXT_TESTRT_SOC=Ascend910B1", "RESNEXT_TESTRT_WORKSPACE_US=0",
		"RESNEXT_TESTRT_LAUNCH_US=50000"), "replay", "10"); us < 10*50000 || us > 4e6 {
		t.Errorf("10 replays of a graph of 10 kernels at 50 ms a launch took %.0f us", us)
	}
	// Upper bounds with a wide margin: a cost of 1 s charged to the other phase, or without timing
	// mode, would take 50 s.
	const wide = 25e6
	if us := elapsedUS(t, exe, append(on, "RESNEXT_TESTRT_WORKSPACE_US=0", "RESNEXT_TESTRT_LAUNCH_US=1000000"),
		"workspace", "50"); us > wide {
		t.Errorf("GetWorkspaceSize was charged the launch cost: %.0f us", us)
	}
	if us := elapsedUS(t, exe, append(on, "RESNEXT_TESTRT_WORKSPACE_US=1000000", "RESNEXT_TESTRT_LAUNCH_US=0"),
		"launch", "50"); us > wide {
		t.Errorf("the launch was charged the GetWorkspaceSize cost: %.0f us", us)
	}
	if us := elapsedUS(t, exe, []string{"RESNEXT_TESTRT_TIMING=0", "RESNEXT_TESTRT_WORKSPACE_US=1000000", "RESNEXT_TESTRT_LAUNCH_US=1000000"},
		"launch", "50"); us > wide {
		t.Errorf("a launch without timing mode was charged: %.0f us", us)
	}
}

// A bad value fails aclInit with a message naming the variable.
func TestTimingModeBadValues(t *testing.T) {
	dir := Build(t)
	exe := buildProgram(t, dir, "timing.c", true)
	for _, env := range []string{"RESNEXT_TESTRT_TIMING=yes", "RESNEXT_TESTRT_TIMING=2",
		"RESNEXT_TESTRT_WORKSPACE_US=-1", "RESNEXT_TESTRT_WORKSPACE_US=1.5", "RESNEXT_TESTRT_WORKSPACE_US=30us",
		"RESNEXT_TESTRT_LAUNCH_US=+5", "RESNEXT_TESTRT_LAUNCH_US= 5", "RESNEXT_TESTRT_LAUNCH_US=99999999999999999999"} {
		name, _, _ := strings.Cut(env, "=")
		r := run(t, exe, []string{"RESNEXT_TESTRT_TIMING=1", env}, "init")
		if r.code != 0 || !strings.Contains(r.stdout, "rc 100000\n") || !strings.Contains(r.stdout, "msg aclInit: "+name+"=") {
			t.Errorf("%s: exit %d\nstdout: %s\nstderr: %s", env, r.code, r.stdout, r.stderr)
		}
	}
	for _, env := range []string{"RESNEXT_TESTRT_TIMING=0", "RESNEXT_TESTRT_TIMING=", "RESNEXT_TESTRT_WORKSPACE_US=0",
		"RESNEXT_TESTRT_LAUNCH_US=", "RESNEXT_TESTRT_LAUNCH_US=007"} {
		r := run(t, exe, []string{"RESNEXT_TESTRT_TIMING=1", env}, "init")
		if r.code != 0 || r.stdout != "rc 0\nmsg \n" {
			t.Errorf("%s: exit %d\nstdout: %s\nstderr: %s", env, r.code, r.stdout, r.stderr)
		}
	}
}
