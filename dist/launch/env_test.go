package launch

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func getenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// with returns a copy of base with the changes applied ("" deletes).
func with(base map[string]string, kv ...string) map[string]string {
	m := make(map[string]string, len(base))
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(m, kv[i])
		} else {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

var (
	msrunEnv = map[string]string{
		"RANK_ID": "5", "RANK_SIZE": "8", "MS_WORKER_NUM": "8", "MS_SCHED_HOST": "10.0.0.1", "MS_SCHED_PORT": "8118",
		"MS_ROLE": "MS_WORKER", "MS_TOPO_TIMEOUT": "900", "LOCAL_RANK": "1", "DEVICE_ID": "1", "MS_LOCAL_WORKER": "4",
	}
	torchrunEnv = map[string]string{
		"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "host0", "MASTER_PORT": "29500",
	}
	slurmEnv = map[string]string{
		"SLURM_PROCID": "6", "SLURM_NTASKS": "8", "SLURM_LOCALID": "2", "SLURM_NTASKS_PER_NODE": "4",
		"SLURM_JOB_NODELIST": "node[03-04,07],gpu3", "SLURM_JOB_ID": "123456",
	}
)

func TestFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want Env
	}{
		{"none", nil, Env{Size: 1, LocalSize: 1, MasterAddr: "127.0.0.1", MasterPort: 8118, ClusterTimeout: 600 * time.Second}},
		{"none with DEVICE_ID", map[string]string{"DEVICE_ID": "3"},
			Env{Size: 1, LocalSize: 1, MasterAddr: "127.0.0.1", MasterPort: 8118, DeviceID: 3, ClusterTimeout: 600 * time.Second}},
		{"msrun", msrunEnv, Env{Rank: 5, Size: 8, LocalRank: 1, LocalSize: 4, MasterAddr: "10.0.0.1", MasterPort: 8118,
			DeviceID: 1, Launcher: "msrun", ClusterTimeout: 900 * time.Second}},
		{"msrun minimal", map[string]string{"RANK_ID": "2", "MS_WORKER_NUM": "4", "MS_SCHED_HOST": "h", "MS_SCHED_PORT": "1"},
			Env{Rank: 2, Size: 4, LocalSize: 4, MasterAddr: "h", MasterPort: 1, Launcher: "msrun", ClusterTimeout: 600 * time.Second}},
		{"msrun forever", with(msrunEnv, "MS_TOPO_TIMEOUT", "-1", "DEVICE_ID", ""),
			Env{Rank: 5, Size: 8, LocalRank: 1, LocalSize: 4, MasterAddr: "10.0.0.1", MasterPort: 8118,
				DeviceID: 1, Launcher: "msrun", ClusterTimeout: -1}},
		{"msrun first over torchrun", with(msrunEnv, "RANK", "0", "WORLD_SIZE", "1"),
			Env{Rank: 5, Size: 8, LocalRank: 1, LocalSize: 4, MasterAddr: "10.0.0.1", MasterPort: 8118,
				DeviceID: 1, Launcher: "msrun", ClusterTimeout: 900 * time.Second}},
		{"torchrun", torchrunEnv, Env{Rank: 3, Size: 4, LocalRank: 1, LocalSize: 2, MasterAddr: "host0", MasterPort: 29500,
			DeviceID: 1, Launcher: "torchrun", ClusterTimeout: 600 * time.Second}},
		{"torchrun over slurm", with(slurmEnv, "RANK", "3", "WORLD_SIZE", "4", "LOCAL_RANK", "1", "LOCAL_WORLD_SIZE", "2", "MASTER_ADDR", "host0", "MASTER_PORT", "29500"),
			Env{Rank: 3, Size: 4, LocalRank: 1, LocalSize: 2, MasterAddr: "host0", MasterPort: 29500,
				DeviceID: 1, Launcher: "torchrun", ClusterTimeout: 600 * time.Second}},
		{"slurm", slurmEnv, Env{Rank: 6, Size: 8, LocalRank: 2, LocalSize: 4, MasterAddr: "node03", MasterPort: 10000 + 123456%20000,
			DeviceID: 2, Launcher: "slurm", ClusterTimeout: 600 * time.Second}},
		{"slurm master given", with(slurmEnv, "MASTER_ADDR", "m", "MASTER_PORT", "4000", "DEVICE_ID", "0"),
			Env{Rank: 6, Size: 8, LocalRank: 2, LocalSize: 4, MasterAddr: "m", MasterPort: 4000, Launcher: "slurm", ClusterTimeout: 600 * time.Second}},
		{"slurm tasks per node", with(slurmEnv, "SLURM_NTASKS_PER_NODE", "", "SLURM_TASKS_PER_NODE", "3(x2),2", "SLURM_NODEID", "2",
			"SLURM_PROCID", "7", "SLURM_LOCALID", "1", "SLURM_JOB_NODELIST", "", "SLURM_NODELIST", "a1,b2", "SLURM_JOB_ID", ""),
			Env{Rank: 7, Size: 8, LocalRank: 1, LocalSize: 2, MasterAddr: "a1", MasterPort: 8118, DeviceID: 1, Launcher: "slurm", ClusterTimeout: 600 * time.Second}},
		{"msrun restart", with(msrunEnv, "RESNEXT_RESTART", "2", "TORCHELASTIC_RESTART_COUNT", "5"),
			Env{Rank: 5, Size: 8, LocalRank: 1, LocalSize: 4, MasterAddr: "10.0.0.1", MasterPort: 8118,
				DeviceID: 1, Launcher: "msrun", ClusterTimeout: 900 * time.Second, Restart: 2}},
		{"torchrun restart", with(torchrunEnv, "TORCHELASTIC_RESTART_COUNT", "1"), Env{Rank: 3, Size: 4, LocalRank: 1, LocalSize: 2,
			MasterAddr: "host0", MasterPort: 29500, DeviceID: 1, Launcher: "torchrun", ClusterTimeout: 600 * time.Second, Restart: 1}},
		{"slurm requeued", with(slurmEnv, "SLURM_RESTART_COUNT", "3"), Env{Rank: 6, Size: 8, LocalRank: 2, LocalSize: 4, MasterAddr: "node03",
			MasterPort: 10000 + 123456%20000, DeviceID: 2, Launcher: "slurm", ClusterTimeout: 600 * time.Second, Restart: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromEnv(getenv(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("FromEnv = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestFromEnvErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // in the message: the variable and its value
	}{
		{"msrun rank not a number", with(msrunEnv, "RANK_ID", "five"), `RANK_ID="five"`},
		{"msrun rank too big", with(msrunEnv, "RANK_ID", "8"), "RANK_ID=8: outside [0, 8)"},
		{"msrun rank negative", with(msrunEnv, "RANK_ID", "-1"), "RANK_ID=-1"},
		{"msrun negative size", with(msrunEnv, "RANK_SIZE", "-2", "MS_WORKER_NUM", ""), "RANK_SIZE=-2"},
		{"msrun size differs", with(msrunEnv, "MS_WORKER_NUM", "16"), `MS_WORKER_NUM="16"`},
		{"msrun no size", with(msrunEnv, "RANK_SIZE", "", "MS_WORKER_NUM", ""), `RANK_SIZE=""`},
		{"msrun port 0", with(msrunEnv, "MS_SCHED_PORT", "0"), `MS_SCHED_PORT="0"`},
		{"msrun port big", with(msrunEnv, "MS_SCHED_PORT", "65536"), `MS_SCHED_PORT="65536"`},
		{"msrun port word", with(msrunEnv, "MS_SCHED_PORT", "http"), `MS_SCHED_PORT="http"`},
		{"msrun no host", with(msrunEnv, "MS_SCHED_HOST", ""), `MS_SCHED_HOST=""`},
		{"msrun scheduler role", with(msrunEnv, "MS_ROLE", "MS_SCHED"), `MS_ROLE="MS_SCHED"`},
		{"msrun timeout", with(msrunEnv, "MS_TOPO_TIMEOUT", "10m"), `MS_TOPO_TIMEOUT="10m"`},
		{"msrun local rank", with(msrunEnv, "LOCAL_RANK", "4"), "LOCAL_RANK=4: outside [0, 4)"},
		{"msrun local size", with(msrunEnv, "MS_LOCAL_WORKER", "0"), "MS_LOCAL_WORKER=0"},
		{"msrun device", with(msrunEnv, "DEVICE_ID", "-3"), `DEVICE_ID="-3"`},
		{"msrun device word", with(msrunEnv, "DEVICE_ID", "npu1"), `DEVICE_ID="npu1"`},
		{"torchrun rank", with(torchrunEnv, "RANK", "4"), "RANK=4: outside [0, 4)"},
		{"torchrun size", with(torchrunEnv, "WORLD_SIZE", "-4"), "WORLD_SIZE=-4"},
		{"torchrun size word", with(torchrunEnv, "WORLD_SIZE", "four"), `WORLD_SIZE="four"`},
		{"torchrun local", with(torchrunEnv, "LOCAL_RANK", "2"), "LOCAL_RANK=2: outside [0, 2)"},
		{"torchrun local size", with(torchrunEnv, "LOCAL_WORLD_SIZE", "8"), "LOCAL_WORLD_SIZE=8: more than the 4"},
		{"torchrun no local size", with(torchrunEnv, "LOCAL_WORLD_SIZE", ""), `LOCAL_WORLD_SIZE=""`},
		{"torchrun port", with(torchrunEnv, "MASTER_PORT", "70000"), `MASTER_PORT="70000"`},
		{"torchrun no addr", with(torchrunEnv, "MASTER_ADDR", ""), `MASTER_ADDR=""`},
		{"slurm procid", with(slurmEnv, "SLURM_PROCID", "x"), `SLURM_PROCID="x"`},
		{"slurm procid range", with(slurmEnv, "SLURM_PROCID", "8"), "SLURM_PROCID=8: outside [0, 8)"},
		{"slurm ntasks", with(slurmEnv, "SLURM_NTASKS", "-1"), "SLURM_NTASKS=-1"},
		{"slurm localid", with(slurmEnv, "SLURM_LOCALID", "9"), "SLURM_LOCALID=9"},
		{"slurm per node", with(slurmEnv, "SLURM_NTASKS_PER_NODE", "four"), `SLURM_NTASKS_PER_NODE="four"`},
		{"slurm tasks per node", with(slurmEnv, "SLURM_NTASKS_PER_NODE", "", "SLURM_TASKS_PER_NODE", "4(x"), `SLURM_TASKS_PER_NODE="4(x"`},
		{"slurm node id", with(slurmEnv, "SLURM_NTASKS_PER_NODE", "", "SLURM_TASKS_PER_NODE", "4(x2)", "SLURM_NODEID", "2"), `SLURM_NODEID="2"`},
		{"slurm nodelist", with(slurmEnv, "SLURM_JOB_NODELIST", "node[01-"), `SLURM_JOB_NODELIST="node[01-"`},
		{"slurm no nodelist", with(slurmEnv, "SLURM_JOB_NODELIST", ""), "SLURM_JOB_NODELIST"},
		{"slurm job id", with(slurmEnv, "SLURM_JOB_ID", "j1"), `SLURM_JOB_ID="j1"`},
		{"slurm master port", with(slurmEnv, "MASTER_PORT", "0"), `MASTER_PORT="0"`},
		{"none master port", map[string]string{"MASTER_PORT": "99999"}, `MASTER_PORT="99999"`},
		{"restart word", with(msrunEnv, "RESNEXT_RESTART", "again"), `RESNEXT_RESTART="again"`},
		{"restart negative", with(torchrunEnv, "TORCHELASTIC_RESTART_COUNT", "-1"), `TORCHELASTIC_RESTART_COUNT="-1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromEnv(getenv(tc.env))
			if err == nil {
				t.Fatalf("FromEnv = %+v, want an error", got)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestExpandHostList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"node1", []string{"node1"}},
		{"a,b", []string{"a", "b"}},
		{"node[01-04,07],gpu3", []string{"node01", "node02", "node03", "node04", "node07", "gpu3"}},
		{"n[8-11]", []string{"n8", "n9", "n10", "n11"}},
		{"n[098-101]", []string{"n098", "n099", "n100", "n101"}},
		{"n[5]", []string{"n5"}},
		{"rack[1-2]-n[1-2]", []string{"rack1-n1", "rack1-n2", "rack2-n1", "rack2-n2"}},
		{"a[1-2]b,c[3,5]", []string{"a1b", "a2b", "c3", "c5"}},
		{"host.example.com,10.0.0.[1-2]", []string{"host.example.com", "10.0.0.1", "10.0.0.2"}},
	} {
		got, err := ExpandHostList(tc.in)
		if err != nil {
			t.Errorf("ExpandHostList(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ExpandHostList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"n[1-", "n1]", "n[]", "n[a-b]", "n[3-1]", "n[1--2]", "n[-2]", "n[[1]]", "n[0-99999999]"} {
		if got, err := ExpandHostList(bad); err == nil {
			t.Errorf("ExpandHostList(%q) = %q, want an error", bad, got)
		}
	}
}

func TestEnvAddr(t *testing.T) {
	if a := (Env{MasterAddr: "h", MasterPort: 1}).Addr(); a != "h:1" {
		t.Errorf("Addr = %q", a)
	}
	if a := (Env{MasterAddr: "::1", MasterPort: 8118}).Addr(); a != "[::1]:8118" {
		t.Errorf("Addr = %q", a)
	}
}

// TestScheduler: rank 0 serves the scheduler under srun and torchrun, on the port after torchrun's
// own store; msrun runs its own.
func TestScheduler(t *testing.T) {
	for _, tc := range []struct {
		env   map[string]string
		serve bool
		addr  string
	}{
		{with(torchrunEnv, "RANK", "0"), true, "host0:29501"},
		{torchrunEnv, false, "host0:29501"},
		{with(slurmEnv, "SLURM_PROCID", "0", "SLURM_LOCALID", "0"), true, "node03:13456"},
		{with(msrunEnv, "RANK_ID", "0"), false, "10.0.0.1:8118"},
		{nil, false, "127.0.0.1:8118"},
	} {
		e, err := FromEnv(getenv(tc.env))
		if err != nil {
			t.Fatal(err)
		}
		if e.ServesScheduler() != tc.serve || e.Addr() != tc.addr {
			t.Errorf("%s rank %d: serves %v at %s, want %v at %s", e.Launcher, e.Rank, e.ServesScheduler(), e.Addr(), tc.serve, tc.addr)
		}
	}
	if _, err := FromEnv(getenv(with(torchrunEnv, "MASTER_PORT", "65535"))); err == nil || !strings.Contains(err.Error(), "MASTER_PORT") {
		t.Errorf("torchrun on port 65535: %v", err)
	}
}

func TestThreads(t *testing.T) {
	for _, tc := range []struct {
		env         Env
		cores, want int
	}{
		{Env{Size: 1, LocalSize: 1}, 8, 8},
		{Env{Size: 4, LocalSize: 2}, 8, 4},
		{Env{Size: 4, LocalSize: 2, BoundCores: true}, 4, 4},
		{Env{Size: 8, LocalSize: 8}, 2, 1},
	} {
		if got := tc.env.Threads(tc.cores); got != tc.want {
			t.Errorf("%+v on %d cores: %d threads, want %d", tc.env, tc.cores, got, tc.want)
		}
	}
	if e, _ := FromEnv(getenv(with(msrunEnv, EnvBoundCores, "1"))); !e.BoundCores {
		t.Error("RESNEXT_BIND_CORE=1 not read")
	}
}
