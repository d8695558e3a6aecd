package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/resnext/resnext/acl"
	"github.com/resnext/resnext/acl/testruntime"
	"github.com/resnext/resnext/ckpt"
	"github.com/resnext/resnext/internal/testutil"
	"github.com/resnext/resnext/ops/cpu"
	"github.com/resnext/resnext/resnext"
	"github.com/resnext/resnext/train/config"
	"github.com/resnext/resnext/train/metrics"
)

// job is a resnext msrun started in the background, its output scanned as it comes.
type job struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	pids map[int]int // rank -> pid of the current attempt's worker
	done chan struct{}
	code int
}

var workerStarted = regexp.MustCompile(`worker started.*"rank": (\d+), "pid": (\d+)`)

// startMsrun runs `resnext msrun args...` (this test binary as resnext) and follows its output.
func startMsrun(t *testing.T, args ...string) *job {
	t.Helper()
	j := &job{pids: map[int]int{}, done: make(chan struct{})}
	j.cmd = exec.Command(os.Args[0], append([]string{"--", "msrun"}, args...)...)
	j.cmd.Env = append(os.Environ(), "RESNEXT_TEST_MAIN=1")
	r, w := io.Pipe()
	j.cmd.Stdout, j.cmd.Stderr = w, w
	if err := j.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s := bufio.NewScanner(r)
		for s.Scan() {
			line := s.Text()
			j.mu.Lock()
			j.out.WriteString(line + "\n")
			if m := workerStarted.FindStringSubmatch(line); m != nil {
				rank, _ := strconv.Atoi(m[1])
				pid, _ := strconv.Atoi(m[2])
				j.pids[rank] = pid
			}
			j.mu.Unlock()
		}
	}()
	go func() {
		err := j.cmd.Wait()
		w.Close()
		var e *exec.ExitError
		if errors.As(err, &e) {
			j.code = e.ExitCode()
		} else if err != nil {
			j.code = -1
		}
		close(j.done)
	}()
	t.Cleanup(func() {
		j.cmd.Process.Kill()
		<-j.done
	})
	return j
}

// wait waits up to limit for msrun to end and returns its status and output.
func (j *job) wait(t *testing.T, limit time.Duration) (int, string) {
	t.Helper()
	select {
	case <-j.done:
	case <-time.After(limit):
		t.Fatalf("msrun still running after %v:\n%s", limit, j.output())
	}
	time.Sleep(50 * time.Millisecond) // the output's last lines
	return j.code, j.output()
}

func (j *job) output() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.out.String()
}

func (j *job) pid(rank int) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.pids[rank]
}

func (j *job) allPids() []int {
	j.mu.Lock()
	defer j.mu.Unlock()
	var ps []int
	for _, p := range j.pids {
		ps = append(ps, p)
	}
	return ps
}

// alive reports whether a process pid exists (a zombie counts as gone).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}

// noOrphans fails the test when a worker of j is still running.
func noOrphans(t *testing.T, j *job) {
	t.Helper()
	for _, pid := range j.allPids() {
		if alive(pid) {
			t.Errorf("worker pid %d is still running after msrun ended", pid)
		}
	}
}

// waitFor polls cond until it holds or limit passes.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// distTrain is a short data-parallel run on the embedded sample: 512 images a epoch over the ranks.
func distTrain(dir string, epochs int) []string {
	return []string{os.Args[0], "--", "train", "--distribute", "True", "--epoch_size", strconv.Itoa(epochs),
		"--decay_epochs", strconv.Itoa(epochs), "--warmup_epochs", "0", "--num_samples", "512", "--batch_size", "32",
		"--num_parallel_workers", "1", "--ckpt_save_dir", filepath.Join(dir, "ckpt")}
}

func readLog(t *testing.T, dir string, rank int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "logs", "worker_"+strconv.Itoa(rank)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDistributedTrain: two workers under msrun train together: every line of a worker's log names
// its rank, both report the same validation, and only rank 0 writes checkpoints and metrics.
func TestDistributedTrain(t *testing.T) {
	dir := chdir(t)
	j := startMsrun(t, append([]string{"--worker_num", "2", "--local_worker_num", "2", "--join", "True",
		"--log_dir", filepath.Join(dir, "logs"), "--master_port", freePort(t)}, distTrain(dir, 2)...)...)
	if code, out := j.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, out, readLog(t, dir, 0))
	}
	var vals []string
	for r := range 2 {
		log := readLog(t, dir, r)
		tag := fmt.Sprintf(`{"rank": %d`, r)
		for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
			if strings.Contains(line, "  INFO  ") && !strings.Contains(line, tag) {
				t.Errorf("worker %d's line without its rank: %s", r, line)
			}
		}
		m := regexp.MustCompile(`epoch done.*"epoch": 2,.*"val_top1": ([0-9.]+)`).FindStringSubmatch(log)
		if m == nil {
			t.Fatalf("worker %d logged no validation of epoch 2:\n%s", r, log)
		}
		vals = append(vals, m[1])
	}
	if vals[0] != vals[1] {
		t.Errorf("the ranks report top-1 %s and %s", vals[0], vals[1])
	}
	recs, err := metrics.Read(filepath.Join(dir, "ckpt", "metrics.jsonl"))
	if err != nil || len(recs) == 0 {
		t.Errorf("metrics.jsonl: %d records, %v", len(recs), err)
	}
	for _, name := range []string{"resnext14_small-1_8.ckpt", "resnext14_small-2_8.ckpt"} {
		if _, err := os.Stat(filepath.Join(dir, "ckpt", name)); err != nil {
			t.Error(err)
		}
	}
	noOrphans(t, j)
}

// TestDistributedTwoNodes: two msrun processes on the loopback, --node_rank 0 and 1 with one worker
// each, train as one job.
func TestDistributedTwoNodes(t *testing.T) {
	dir := chdir(t)
	port := freePort(t)
	var jobs []*job
	for node := range 2 {
		jobs = append(jobs, startMsrun(t, append([]string{"--worker_num", "2", "--local_worker_num", "1", "--node_rank", strconv.Itoa(node),
			"--join", "True", "--log_dir", filepath.Join(dir, "logs"), "--master_port", port}, distTrain(dir, 1)...)...))
	}
	for node, j := range jobs {
		if code, out := j.wait(t, 3*time.Minute); code != 0 {
			t.Fatalf("node %d: exit %d:\n%s\n%s", node, code, out, readLog(t, dir, node))
		}
	}
	for r := range 2 {
		if log := readLog(t, dir, r); !strings.Contains(log, `"ranks": 2`) || !strings.Contains(log, "training done") {
			t.Errorf("worker %d did not train in a job of 2:\n%s", r, log)
		}
	}
}

// TestDistributedWorkerKilled: a worker killed mid-run stops the job within seconds, msrun naming it,
// and leaves no process behind.
func TestDistributedWorkerKilled(t *testing.T) {
	dir := chdir(t)
	j := startMsrun(t, append([]string{"--worker_num", "2", "--local_worker_num", "2", "--join", "True",
		"--log_dir", filepath.Join(dir, "logs"), "--master_port", freePort(t), "--grace_period", "3s"}, distTrain(dir, 50)...)...)
	waitFor(t, "rank 1 training", 2*time.Minute, func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "logs", "worker_1.log"))
		return bytes.Contains(b, []byte("INFO  train  "))
	})
	pid := j.pid(1)
	if pid == 0 {
		t.Fatalf("no pid for rank 1:\n%s", j.output())
	}
	killed := time.Now()
	syscall.Kill(pid, syscall.SIGKILL)
	code, out := j.wait(t, 30*time.Second)
	took := time.Since(killed)
	if code == 0 || !strings.Contains(out, "rank 1") || !strings.Contains(out, "killed") {
		t.Errorf("exit %d after rank 1 was killed:\n%s", code, out)
	}
	if took > 10*time.Second {
		t.Errorf("the job took %v to stop after a worker was killed", took)
	}
	t.Logf("stopped %v after the kill", took.Round(time.Millisecond))
	noOrphans(t, j)
}

// TestDistributedRankNeverArrives: a job whose second worker never starts fails the rendezvous after
// cluster_time_out, naming the missing rank.
func TestDistributedRankNeverArrives(t *testing.T) {
	dir := chdir(t)
	start := time.Now()
	j := startMsrun(t, append([]string{"--worker_num", "2", "--local_worker_num", "1", "--node_rank", "0", "--join", "True",
		"--cluster_time_out", "3", "--log_dir", filepath.Join(dir, "logs"), "--master_port", freePort(t)}, distTrain(dir, 1)...)...)
	code, out := j.wait(t, time.Minute)
	log := readLog(t, dir, 0)
	if code == 0 || !strings.Contains(log, "rank 1 of 2 did not arrive within 3s (cluster_time_out)") {
		t.Errorf("exit %d:\n%s\nworker 0:\n%s", code, out, log)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %v", d)
	}
	noOrphans(t, j)
}

// TestDistributedRestart: with --max_restarts 1, a worker killed after the first checkpoint makes
// msrun restart the job, which resumes from that checkpoint and finishes.
func TestDistributedRestart(t *testing.T) {
	dir := chdir(t)
	j := startMsrun(t, append([]string{"--worker_num", "2", "--local_worker_num", "2", "--join", "True", "--max_restarts", "1",
		"--log_dir", filepath.Join(dir, "logs"), "--master_port", freePort(t), "--grace_period", "3s"}, distTrain(dir, 6)...)...)
	first := filepath.Join(dir, "ckpt", "resnext14_small-1_8.ckpt")
	waitFor(t, "the first checkpoint", 2*time.Minute, func() bool { _, err := os.Stat(first); return err == nil })
	syscall.Kill(j.pid(1), syscall.SIGKILL)
	code, out := j.wait(t, 3*time.Minute)
	if code != 0 || !strings.Contains(out, "restart 1 of 1") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	log := readLog(t, dir, 0)
	if !strings.Contains(log, "restarted: resuming from the latest checkpoint") || !strings.Contains(log, `"global_step": 48`) {
		t.Errorf("rank 0 did not resume and finish:\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(dir, "ckpt", "resnext14_small-6_8.ckpt")); err != nil {
		t.Error(err)
	}
	noOrphans(t, j)
}

// TestBenchDistributed: bench --distribute True times the data-parallel step of each worker.
func TestBenchDistributed(t *testing.T) {
	dir := chdir(t)
	j := startMsrun(t, "--worker_num", "2", "--local_worker_num", "2", "--join", "True", "--log_dir", filepath.Join(dir, "logs"),
		"--master_port", freePort(t), os.Args[0], "--", "bench", "--model", "resnext14_small", "--image_size", "28", "--batch_size", "8",
		"--mode", "train", "--steps", "2", "--warmup", "1", "--distribute", "True", "--bucket_cap_mb", "0.1", "--json")
	if code, out := j.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for r := range 2 {
		if log := readLog(t, dir, r); !strings.Contains(log, `"ranks":2`) || !strings.Contains(log, `"bucket_cap_mb":0.1`) {
			t.Errorf("worker %d's result:\n%s", r, log)
		}
	}
}

// TestDistributedAscendMatchesCPU: the two-worker job on the Ascend backend, against the test runtime,
// meets in HCCL and trains to the weights the same job computes on the CPU (within the two backends'
// float32 rounding, amplified by the steps: see ops/ascend's TestEngineMatchesCPU).
func TestDistributedAscendMatchesCPU(t *testing.T) {
	if _, err := acl.LoadDir(t.TempDir()); errors.Is(err, acl.ErrNoCgo) {
		t.Skip("the Ascend backend needs a cgo build")
	}
	lib := testruntime.Build(t)
	dir := chdir(t)
	data := filepath.Join(dir, "data")
	testutil.WriteImageFolder(t, data, []string{"a", "b", "c", "d"}, 8, 16)
	weights := map[string]map[string][]float32{}
	for _, target := range []string{"Ascend", "CPU"} {
		out := filepath.Join(dir, target)
		args := []string{"--worker_num", "2", "--local_worker_num", "2", "--join", "True", "--log_dir", filepath.Join(out, "logs"),
			"--master_port", freePort(t), os.Args[0], "--", "train", "--distribute", "True", "--device_target", target,
			"--dataset", "imagenet", "--data_dir", data, "--model", "resnext14_small", "--num_classes", "4", "--image_resize", "16",
			"--batch_size", "8", "--epoch_size", "1", "--decay_epochs", "1", "--warmup_epochs", "0", "--lr", "0.05",
			"--amp_level", "O0", "--loss_scale", "1", "--val_while_train", "False", "--num_parallel_workers", "1",
			"--ckpt_save_dir", filepath.Join(out, "ckpt")}
		t.Setenv("RESNEXT_ACL_LIB_DIR", lib)
		t.Setenv("RESNEXT_TESTRT_DEVICES", "2")
		j := startMsrun(t, args...)
		if code, o := j.wait(t, 5*time.Minute); code != 0 {
			b, _ := os.ReadFile(filepath.Join(out, "logs", "worker_0.log"))
			t.Fatalf("%s: exit %d:\n%s\n%s", target, code, o, b)
		}
		b, _ := os.ReadFile(filepath.Join(out, "logs", "worker_1.log"))
		via := map[string]string{"Ascend": `"via": "HCCL"`, "CPU": `"via": "TCP ring"`}[target]
		if !strings.Contains(string(b), via) {
			t.Errorf("%s: worker 1 did not meet the other %s:\n%s", target, via, b)
		}
		c, err := ckpt.Read(filepath.Join(out, "ckpt", "resnext14_small-1_2.ckpt"))
		if err != nil {
			t.Fatal(err)
		}
		weights[target] = map[string][]float32{}
		for _, e := range c.Tensors {
			v, err := e.Float32()
			if err != nil {
				t.Fatal(err)
			}
			weights[target][e.Name] = v
		}
	}
	if len(weights["CPU"]) == 0 {
		t.Fatal("no weights in the CPU checkpoint")
	}
	for name, w := range weights["CPU"] {
		testutil.AssertClose(t, name, weights["Ascend"][name], w, 2e-3)
	}
	// The two steps move the weights little from where the seed put them; the backends must agree on
	// the move itself, which they would miss by its whole size without the averaging.
	mc, _ := resnext.Variant("resnext14_small")
	mc.InChannels, mc.NumClasses = 3, 4
	b := cpu.New(cpu.Options{Threads: 1})
	defer b.Close()
	net, err := resnext.New(b, mc, uint64(config.Default().Seed))
	if err != nil {
		t.Fatal(err)
	}
	defer net.Free()
	var moved, differ float64
	for _, p := range net.Params() {
		if !p.Trainable {
			continue
		}
		init := testutil.Download(t, b, p.Value)
		for i, w := range weights["CPU"][p.Name] {
			moved += math.Pow(float64(w-init[i]), 2)
			differ += math.Pow(float64(weights["Ascend"][p.Name][i]-w), 2)
		}
	}
	t.Logf("the weights moved by %.4g (L2); Ascend and CPU differ by %.3g of that", math.Sqrt(moved), math.Sqrt(differ/moved))
	if moved == 0 || differ > 1e-4*moved {
		t.Errorf("Ascend's update differs from the CPU's by %.3g of its size", math.Sqrt(differ/moved))
	}
}

// TestDistributedWorkerByHand: a worker started by hand with msrun's environment joins the job whose
// other worker msrun started.
func TestDistributedWorkerByHand(t *testing.T) {
	dir := chdir(t)
	port := freePort(t)
	j := startMsrun(t, append([]string{"--worker_num", "2", "--local_worker_num", "1", "--node_rank", "0", "--join", "True",
		"--log_dir", filepath.Join(dir, "logs"), "--master_port", port}, distTrain(dir, 1)...)...)
	args := distTrain(dir, 1)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "RESNEXT_TEST_MAIN=1", "RANK_ID=1", "RANK_SIZE=2", "MS_SCHED_HOST=127.0.0.1", "MS_SCHED_PORT="+port,
		"MS_ROLE=MS_WORKER", "DEVICE_ID=0")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte(`"rank": 1, "ranks": 2`)) || !bytes.Contains(out, []byte("training done")) {
		t.Errorf("the worker started by hand: %v\n%s", err, out)
	}
	if code, o := j.wait(t, 2*time.Minute); code != 0 {
		t.Errorf("msrun: exit %d:\n%s", code, o)
	}
}
