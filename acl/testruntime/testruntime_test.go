package testruntime

import (
	"bytes"
	"errors"
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
		aclnnInplaceCopyGetWorkspaceSize aclnnInplaceCopy
		testrt_violations testrt_last_violation testrt_reset testrt_device_bytes_in_use testrt_pending_tasks`)
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

func TestCorrectSequence(t *testing.T) {
	dir := Build(t)
	exe := buildProgram(t, dir, "scenarios.c", true)
	// Under RESNEXT_TESTRT_ABORT=1 any violation in the correct sequence would abort it.
	r := run(t, exe, []string{"RESNEXT_TESTRT_ABORT=1"}, "ok")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "ok" {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
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
			r := run(t, exe, nil, v.scenario)
			if r.code != 0 || !strings.Contains(r.stdout, "caught: ") || !strings.Contains(r.stdout, v.message) {
				t.Errorf("not caught: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			// With RESNEXT_TESTRT_ABORT=1 the runtime prints the message and aborts in the call.
			r = run(t, exe, []string{"RESNEXT_TESTRT_ABORT=1"}, v.scenario)
			if !r.aborted || !strings.Contains(r.stderr, "testrt: contract violation: ") ||
				!strings.Contains(r.stderr, v.message) {
				t.Errorf("did not abort: exit %d aborted %v\nstdout: %s\nstderr: %s", r.code, r.aborted, r.stdout,
					r.stderr)
			}
		})
	}
}
