package dist

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/resnext/resnext/dist/launch"
	"github.com/resnext/resnext/dist/rendezvous"
	"github.com/resnext/resnext/dist/tcp"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/ops/cpu"
)

// job starts a scheduler and returns the environment of each of size ranks.
func job(t *testing.T, size int, timeout time.Duration) []launch.Env {
	t.Helper()
	s, err := rendezvous.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	host, port, _ := net.SplitHostPort(s.Addr())
	p, _ := strconv.Atoi(port)
	envs := make([]launch.Env, size)
	for r := range envs {
		envs[r] = launch.Env{Rank: r, Size: size, LocalRank: r, LocalSize: size, MasterAddr: host, MasterPort: p,
			Launcher: "msrun", ClusterTimeout: timeout}
	}
	return envs
}

// onRanks runs fn on every rank of envs at once, each on its own CPU backend with the communicator join
// gives it (JoinTCP on the loopback when nil), and fails the test with each rank's error.
func onRanks(t *testing.T, envs []launch.Env, join func(ops.Backend, launch.Env) (Communicator, error), fn func(r int, b ops.Backend, c Communicator) error) {
	t.Helper()
	if join == nil {
		join = func(b ops.Backend, env launch.Env) (Communicator, error) {
			return JoinTCP(context.Background(), b, env, "127.0.0.1", tcp.Options{Timeout: 10 * time.Second})
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(envs))
	for r := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := cpu.New(cpu.Options{Threads: 1})
			defer b.Close()
			c, err := join(b, envs[r])
			if err != nil {
				errs[r] = err
				return
			}
			errs[r] = errors.Join(fn(r, b, c), c.Close())
		}()
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

// TestJoinTCP: three ranks meet through the scheduler and all-reduce, broadcast and meet at a
// barrier over CPU backend tensors; every rank ends with the same values.
func TestJoinTCP(t *testing.T) {
	const size = 3
	want := []float32{3, 6, 9, 12, 15, 0 + 1 + 2, 20, -1}
	onRanks(t, job(t, size, 10*time.Second), nil, func(r int, b ops.Backend, c Communicator) error {
		x := ops.FromFloat32(b, ops.Float32, ops.Shape{2, 3}, []float32{1, 2, 3, 4, 5, float32(r)})
		defer b.Free(x)
		if err := c.AllReduce(x, false); err != nil {
			return err
		}
		y := ops.FromFloat32(b, ops.Float32, ops.Shape{2}, []float32{float32(10 * r), -1})
		defer b.Free(y)
		if err := c.Broadcast(y, 2); err != nil {
			return err
		}
		if err := c.Barrier(); err != nil {
			return err
		}
		vx, _ := ops.ToFloat32(b, x)
		vy, _ := ops.ToFloat32(b, y)
		if got := append(vx, vy...); !slices.Equal(got, want) {
			return fmt.Errorf("%v, want %v", got, want)
		}
		return nil
	})
}

// TestJoinTCPTimeout: a rank whose peer never arrives fails after the cluster timeout, naming it.
func TestJoinTCPTimeout(t *testing.T) {
	envs := job(t, 2, 300*time.Millisecond)
	b := cpu.New(cpu.Options{Threads: 1})
	defer b.Close()
	_, err := JoinTCP(context.Background(), b, envs[0], "127.0.0.1", tcp.Options{})
	if err == nil || !strings.Contains(err.Error(), "1 of 2 did not arrive") {
		t.Fatalf("JoinTCP without rank 1: %v", err)
	}
}

// TestJoinServesScheduler: under srun, rank 0 serves the scheduler the others meet at.
func TestJoinServesScheduler(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	envs := make([]launch.Env, 2)
	for r := range envs {
		envs[r] = launch.Env{Rank: r, Size: 2, LocalRank: r, LocalSize: 2, MasterAddr: "127.0.0.1", MasterPort: port,
			Launcher: "slurm", ClusterTimeout: 10 * time.Second}
	}
	join := func(b ops.Backend, env launch.Env) (Communicator, error) {
		return Join(context.Background(), b, env, tcp.Options{Timeout: 10 * time.Second})
	}
	onRanks(t, envs, join, func(r int, b ops.Backend, c Communicator) error {
		x := ops.FromFloat32(b, ops.Float32, ops.Shape{1}, []float32{float32(r + 1)})
		defer b.Free(x)
		if err := c.AllReduce(x, false); err != nil {
			return err
		}
		if v, _ := ops.ToFloat32(b, x); v[0] != 3 {
			return fmt.Errorf("sum %v, want 3", v[0])
		}
		return c.Barrier()
	})
}

func TestRingHost(t *testing.T) {
	for _, tc := range []struct {
		master, override, want string
	}{
		{"127.0.0.1", "", "127.0.0.1"},
		{"localhost", "", "127.0.0.1"},
		{"10.1.2.3", "192.168.0.7", "192.168.0.7"},
	} {
		got, err := ringHost(launch.Env{MasterAddr: tc.master, MasterPort: 8118}, tc.override)
		if err != nil || got != tc.want {
			t.Errorf("master %s, override %q: %q, %v; want %q", tc.master, tc.override, got, err, tc.want)
		}
	}
	if _, err := ringHost(launch.Env{MasterAddr: "10.1.2.3"}, "eth0"); err == nil || !strings.Contains(err.Error(), "RESNEXT_HOST_IP") {
		t.Errorf("a bad override: %v", err)
	}
}

// TestStartAllReduceBuckets: buckets started one after another while the caller computes come back
// summed and averaged in place, each tensor of a bucket in its own place.
func TestStartAllReduceBuckets(t *testing.T) {
	onRanks(t, job(t, 2, 10*time.Second), nil, func(r int, b ops.Backend, c Communicator) error {
		f := float32(r)
		a := ops.FromFloat32(b, ops.Float32, ops.Shape{3}, []float32{1 + f, 2 + f, 3 + f})
		bb := ops.FromFloat32(b, ops.Float32, ops.Shape{2}, []float32{10 * f, 20 * f})
		h := ops.FromFloat32(b, ops.Float16, ops.Shape{2}, []float32{1 + f, -2 - f})
		defer b.Free(a)
		defer b.Free(bb)
		defer b.Free(h)
		if err := c.StartAllReduce([]ops.Tensor{a, bb}, true); err != nil {
			return err
		}
		if err := c.StartAllReduce([]ops.Tensor{h}, false); err != nil {
			return err
		}
		if err := c.Wait(); err != nil {
			return err
		}
		for _, w := range []struct {
			t    ops.Tensor
			want []float32
		}{{a, []float32{1.5, 2.5, 3.5}}, {bb, []float32{5, 10}}, {h, []float32{3, -5}}} {
			if got, _ := ops.ToFloat32(b, w.t); !slices.Equal(got, w.want) {
				return fmt.Errorf("got %v, want %v", got, w.want)
			}
		}
		if err := c.StartAllReduce([]ops.Tensor{a, h}, false); err == nil {
			return errors.New("a bucket of float32 and float16 tensors was accepted")
		}
		return nil
	})
}
