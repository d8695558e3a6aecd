package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// freePort is a TCP port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// msrun runs `resnext msrun` with args and returns its exit status and output.
func msrun(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"--", "msrun"}, args...)...)
	cmd.Env = append(os.Environ(), "RESNEXT_TEST_MAIN=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if e, ok := err.(*exec.ExitError); ok {
		return e.ExitCode(), out.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

// TestMsrun: two workers get msrun's environment and their own logs, and the scheduler answers on
// the master port; with --join True a failing worker's rank, status and log end the run with its
// status; msrun's own flags are checked.
func TestMsrun(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	code, out := msrun(t, "--worker_num", "2", "--local_worker_num", "2", "--join", "True", "--log_dir", dir,
		"--master_port", port, "/bin/sh", "-c", `echo "rank=$RANK_ID size=$RANK_SIZE local=$LOCAL_RANK device=$DEVICE_ID role=$MS_ROLE sched=$MS_SCHED_HOST:$MS_SCHED_PORT"`)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for r := range 2 {
		b, err := os.ReadFile(filepath.Join(dir, "worker_"+strconv.Itoa(r)+".log"))
		want := "rank=" + strconv.Itoa(r) + " size=2 local=" + strconv.Itoa(r) + " device=" + strconv.Itoa(r) +
			" role=MS_WORKER sched=127.0.0.1:" + port
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("worker %d's log (%v):\n%s\nwant %q", r, err, b, want)
		}
	}

	code, out = msrun(t, "--worker_num", "2", "--local_worker_num", "2", "--join", "True", "--log_dir", dir,
		"--master_port", freePort(t), "--grace_period", "2s", "/bin/sh", "-c",
		`if [ "$RANK_ID" = 1 ]; then echo broken; exit 3; fi; sleep 30`)
	if code != 3 || !strings.Contains(out, "rank 1 exited with status 3") || !strings.Contains(out, "broken") {
		t.Errorf("a failing worker: exit %d:\n%s", code, out)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--worker_num", "0", "/bin/true"}, "--worker_num"},
		{[]string{"--join", "maybe", "/bin/true"}, "want True or False"},
		{[]string{"--worker_num", "1", "--local_worker_num", "1", "no-such-command-here"}, `"no-such-command-here" not found`},
	} {
		if code, out := msrun(t, c.args...); code == 0 || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d, want an error with %q:\n%s", c.args, code, c.want, out)
		}
	}
}
