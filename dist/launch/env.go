// Package launch starts and supervises the worker processes of a data-parallel job on one node, as
// MindSpore's msrun does (Run), and gives a worker its place in the job from whichever launcher started it:
// msrun (or Run), torchrun or Slurm (FromEnv).
package launch

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Launcher names, as Env.Launcher reports them.
const (
	LauncherMsrun    = "msrun"
	LauncherTorchrun = "torchrun"
	LauncherSlurm    = "slurm"
)

// Defaults shared by FromEnv and Run (msrun's).
const (
	DefaultMasterAddr     = "127.0.0.1"
	DefaultMasterPort     = 8118
	DefaultClusterTimeout = 600 * time.Second
)

// Environment variables Run sets for its workers besides msrun's: which attempt this is (0 first, then one
// more per restart), how many workers run on this node (FromEnv's LocalSize), and whether each worker is
// bound to a share of the node's cores (1) or not (0).
const (
	EnvRestart     = "RESNEXT_RESTART"
	EnvLocalWorker = "MS_LOCAL_WORKER"
	EnvBoundCores  = "RESNEXT_BIND_CORE"
)

// Env is a worker's view of the job, from the launcher that started it.
type Env struct {
	// Rank is this worker's rank in [0, Size); Size the number of workers in the job.
	Rank, Size int
	// LocalRank is the rank among the workers of this node, in [0, LocalSize).
	LocalRank, LocalSize int
	// MasterAddr and MasterPort locate the scheduler (msrun's MS_SCHED_HOST:MS_SCHED_PORT, torchrun's
	// MASTER_ADDR:MASTER_PORT).
	MasterAddr string
	MasterPort int
	// DeviceID is the card to use: DEVICE_ID, else LocalRank.
	DeviceID int
	// Launcher is "msrun", "torchrun", "slurm", or "" when no launcher started the process (a single
	// process: Rank 0, Size 1).
	Launcher string
	// ClusterTimeout bounds how long the workers wait for each other (MS_TOPO_TIMEOUT, msrun's
	// --cluster_time_out, in seconds; 600 s by default). Negative: wait forever.
	ClusterTimeout time.Duration
	// Restart counts the times the job was restarted after a failure: RESNEXT_RESTART (resnext msrun
	// --max_restarts), else torchrun's TORCHELASTIC_RESTART_COUNT, else Slurm's SLURM_RESTART_COUNT
	// (a requeued job); 0 for the first attempt. A restarted worker resumes from the run's latest
	// checkpoint.
	Restart int
	// BoundCores says the launcher bound this worker to a share of the node's cores (msrun
	// --bind_core True): the cores it may use are its own.
	BoundCores bool
}

// Threads is how many CPU threads a worker of this job runs its kernels on when not told: the cores it
// may use, shared with the other workers of its node unless the launcher bound each to its own.
func (e Env) Threads(cores int) int {
	if e.BoundCores || e.LocalSize <= 1 {
		return max(cores, 1)
	}
	return max(cores/e.LocalSize, 1)
}

// Scope is the prefix of the rendezvous keys of this attempt of the job: the ranks of a restart meet
// afresh under the same scheduler.
func (e Env) Scope() string { return "attempt/" + strconv.Itoa(e.Restart) + "/" }

// Forever reports whether the workers wait for each other without a time limit.
func (e Env) Forever() bool { return e.ClusterTimeout < 0 }

// Addr is the scheduler's address, as net.Dial takes it: MasterAddr:MasterPort, but for torchrun,
// whose own store holds MASTER_PORT, where the scheduler is on the port after it.
func (e Env) Addr() string { return joinHostPort(e.MasterAddr, e.SchedulerPort()) }

// SchedulerPort is the port of the job's scheduler (see Addr).
func (e Env) SchedulerPort() int {
	if e.Launcher == LauncherTorchrun {
		return e.MasterPort + 1
	}
	return e.MasterPort
}

// ServesScheduler reports whether this worker runs the job's scheduler itself: rank 0 under a
// launcher that runs none of ours (Slurm's srun, torchrun). Under resnext msrun, msrun runs it.
func (e Env) ServesScheduler() bool {
	return e.Size > 1 && e.Rank == 0 && (e.Launcher == LauncherSlurm || e.Launcher == LauncherTorchrun)
}

func joinHostPort(host string, port int) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

// FromEnv reads the job from the environment: msrun's (RANK_ID, RANK_SIZE, MS_WORKER_NUM, MS_SCHED_HOST,
// MS_SCHED_PORT, MS_ROLE, MS_TOPO_TIMEOUT, LOCAL_RANK, DEVICE_ID) when RANK_ID, MS_ROLE or MS_SCHED_HOST is
// set, else torchrun's (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) when RANK or
// WORLD_SIZE is set, else Slurm's (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE, the
// master being MASTER_ADDR or the first host of SLURM_JOB_NODELIST, on MASTER_PORT or a port derived from
// SLURM_JOB_ID) when SLURM_PROCID is set, else a single process. getenv is os.Getenv outside tests.
//
// MS_TOPO_TIMEOUT applies under every launcher; DEVICE_ID too. A malformed or inconsistent value is an
// error naming the variable and its value.
func FromEnv(getenv func(string) string) (Env, error) {
	r := envReader{getenv: getenv}
	var e Env
	switch {
	case getenv("RANK_ID") != "" || getenv("MS_ROLE") != "" || getenv("MS_SCHED_HOST") != "":
		e = r.msrun()
	case getenv("RANK") != "" || getenv("WORLD_SIZE") != "":
		e = r.torchrun()
	case getenv("SLURM_PROCID") != "":
		e = r.slurm()
	default:
		e = Env{Size: 1, LocalSize: 1, MasterAddr: DefaultMasterAddr, MasterPort: DefaultMasterPort}
		if p := getenv("MASTER_PORT"); p != "" {
			e.MasterPort = r.port("MASTER_PORT")
		}
	}
	e.ClusterTimeout = DefaultClusterTimeout
	if getenv("MS_TOPO_TIMEOUT") != "" {
		s := r.int("MS_TOPO_TIMEOUT")
		if s < 0 {
			e.ClusterTimeout = -1
		} else {
			e.ClusterTimeout = time.Duration(s) * time.Second
		}
	}
	for _, name := range []string{EnvRestart, "TORCHELASTIC_RESTART_COUNT", "SLURM_RESTART_COUNT"} {
		if getenv(name) != "" {
			if e.Restart = r.int(name); r.err == nil && e.Restart < 0 {
				r.fail(name, "must be >= 0")
			}
			break
		}
	}
	e.BoundCores = getenv(EnvBoundCores) == "1"
	e.DeviceID = e.LocalRank
	if getenv("DEVICE_ID") != "" {
		e.DeviceID = r.int("DEVICE_ID")
		if r.err == nil && e.DeviceID < 0 {
			r.fail("DEVICE_ID", "must be >= 0")
		}
	}
	if r.err != nil {
		return Env{}, r.err
	}
	if err := e.check(r.names); err != nil {
		return Env{}, err
	}
	return e, nil
}

// names records which variables an Env's fields came from, for check's messages.
type names struct{ rank, size, localRank, localSize string }

type envReader struct {
	getenv func(string) string
	err    error
	names  names
}

func (r *envReader) fail(name, why string) {
	if r.err == nil {
		r.err = fmt.Errorf("launch: %s=%q: %s", name, r.getenv(name), why)
	}
}

// int parses the variable name, which must be set.
func (r *envReader) int(name string) int {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		r.fail(name, "not set (the launcher sets it; set it yourself when starting workers by hand)")
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.fail(name, "not an integer")
		return 0
	}
	return n
}

// first parses the first of names that is set; "" when none is.
func (r *envReader) first(names ...string) (int, string) {
	for _, n := range names {
		if r.getenv(n) != "" {
			return r.int(n), n
		}
	}
	r.fail(names[0], "not set (the launcher sets it; set it yourself when starting workers by hand)")
	return 0, names[0]
}

func (r *envReader) port(name string) int {
	p := r.int(name)
	if r.err == nil && (p < 1 || p > 65535) {
		r.fail(name, "a port must be in 1..65535")
	}
	return p
}

func (r *envReader) host(name string) string {
	h := strings.TrimSpace(r.getenv(name))
	if h == "" {
		r.fail(name, "not set: the workers need the master's address")
	}
	return h
}

func (r *envReader) msrun() Env {
	if role := r.getenv("MS_ROLE"); role != "" && role != "MS_WORKER" {
		r.fail("MS_ROLE", "this process is not one of msrun's workers (MS_ROLE=MS_WORKER)")
	}
	var e Env
	e.Launcher = LauncherMsrun
	e.Rank = r.int("RANK_ID")
	e.Size, r.names.size = r.first("RANK_SIZE", "MS_WORKER_NUM")
	if r.getenv("RANK_SIZE") != "" && r.getenv("MS_WORKER_NUM") != "" {
		if w := r.int("MS_WORKER_NUM"); r.err == nil && w != e.Size {
			r.fail("MS_WORKER_NUM", fmt.Sprintf("differs from RANK_SIZE=%d", e.Size))
		}
	}
	r.names.rank = "RANK_ID"
	e.LocalRank, r.names.localRank = 0, "LOCAL_RANK"
	if r.getenv("LOCAL_RANK") != "" {
		e.LocalRank = r.int("LOCAL_RANK")
	}
	// msrun does not tell a worker how many run on its node; Run does (MS_LOCAL_WORKER). Without it the
	// job is taken to be on one node.
	e.LocalSize, r.names.localSize = e.Size, "RANK_SIZE"
	if r.getenv(EnvLocalWorker) != "" {
		e.LocalSize, r.names.localSize = r.int(EnvLocalWorker), EnvLocalWorker
	}
	e.MasterAddr = r.host("MS_SCHED_HOST")
	e.MasterPort = r.port("MS_SCHED_PORT")
	return e
}

func (r *envReader) torchrun() Env {
	var e Env
	e.Launcher = LauncherTorchrun
	r.names = names{rank: "RANK", size: "WORLD_SIZE", localRank: "LOCAL_RANK", localSize: "LOCAL_WORLD_SIZE"}
	e.Rank = r.int("RANK")
	e.Size = r.int("WORLD_SIZE")
	e.LocalRank = r.int("LOCAL_RANK")
	e.LocalSize = r.int("LOCAL_WORLD_SIZE")
	e.MasterAddr = r.host("MASTER_ADDR")
	e.MasterPort = r.port("MASTER_PORT")
	if r.err == nil && e.MasterPort == 65535 {
		r.fail("MASTER_PORT", "the scheduler listens on the port after torchrun's: use a port below 65535")
	}
	return e
}

func (r *envReader) slurm() Env {
	var e Env
	e.Launcher = LauncherSlurm
	r.names.rank = "SLURM_PROCID"
	e.Rank = r.int("SLURM_PROCID")
	e.Size, r.names.size = r.first("SLURM_NTASKS", "SLURM_NPROCS")
	r.names.localRank = "SLURM_LOCALID"
	e.LocalRank = r.int("SLURM_LOCALID")
	switch {
	case r.getenv("SLURM_NTASKS_PER_NODE") != "":
		r.names.localSize = "SLURM_NTASKS_PER_NODE"
		e.LocalSize = r.int("SLURM_NTASKS_PER_NODE")
	case r.getenv("SLURM_TASKS_PER_NODE") != "":
		// "2(x3),1": the count on each node, in node order; this node's is at SLURM_NODEID.
		r.names.localSize = "SLURM_TASKS_PER_NODE"
		node := 0
		if r.getenv("SLURM_NODEID") != "" {
			node = r.int("SLURM_NODEID")
		}
		counts, err := expandTasksPerNode(r.getenv("SLURM_TASKS_PER_NODE"))
		switch {
		case err != nil:
			r.fail("SLURM_TASKS_PER_NODE", err.Error())
		case r.err == nil && (node < 0 || node >= len(counts)):
			r.fail("SLURM_NODEID", fmt.Sprintf("outside the %d nodes of SLURM_TASKS_PER_NODE", len(counts)))
		case r.err == nil:
			e.LocalSize = counts[node]
		}
	default:
		r.names.localSize = "SLURM_NTASKS"
		e.LocalSize = e.Size
	}
	if r.getenv("MASTER_ADDR") != "" {
		e.MasterAddr = r.host("MASTER_ADDR")
	} else {
		name := "SLURM_JOB_NODELIST"
		if r.getenv(name) == "" {
			name = "SLURM_NODELIST"
		}
		hosts, err := ExpandHostList(r.getenv(name))
		switch {
		case err != nil:
			r.fail(name, err.Error())
		case len(hosts) == 0:
			r.fail("SLURM_JOB_NODELIST", "not set and no MASTER_ADDR: the workers need the master's address")
		default:
			e.MasterAddr = hosts[0]
		}
	}
	switch {
	case r.getenv("MASTER_PORT") != "":
		e.MasterPort = r.port("MASTER_PORT")
	case r.getenv("SLURM_JOB_ID") != "":
		id := r.int("SLURM_JOB_ID")
		if r.err == nil && id < 0 {
			r.fail("SLURM_JOB_ID", "must be >= 0")
		}
		e.MasterPort = SlurmPort(id)
	default:
		e.MasterPort = DefaultMasterPort
	}
	return e
}

// SlurmPort is the master port FromEnv derives from a Slurm job id when MASTER_PORT is not set, so that
// jobs sharing a node use different ports: 10000 + id mod 20000 (in 10000..29999).
func SlurmPort(jobID int) int { return 10000 + jobID%20000 }

func (e Env) check(n names) error {
	if e.Launcher == "" {
		return nil
	}
	switch {
	case e.Size < 1:
		return fmt.Errorf("launch: %s=%d: the number of workers must be >= 1", n.size, e.Size)
	case e.Rank < 0 || e.Rank >= e.Size:
		return fmt.Errorf("launch: %s=%d: outside [0, %d) (%s=%d)", n.rank, e.Rank, e.Size, n.size, e.Size)
	case e.LocalSize < 1:
		return fmt.Errorf("launch: %s=%d: the number of workers on a node must be >= 1", n.localSize, e.LocalSize)
	case e.LocalSize > e.Size:
		return fmt.Errorf("launch: %s=%d: more than the %d workers of the job (%s)", n.localSize, e.LocalSize, e.Size, n.size)
	case e.LocalRank < 0 || e.LocalRank >= e.LocalSize:
		return fmt.Errorf("launch: %s=%d: outside [0, %d) (%s=%d)", n.localRank, e.LocalRank, e.LocalSize, n.localSize, e.LocalSize)
	}
	return nil
}

// ExpandHostList expands a Slurm host list, such as SLURM_JOB_NODELIST's "node[01-04,07],gpu3", into its
// host names in order (node01 node02 node03 node04 node07 gpu3). Ranges keep their zero padding; a name
// may hold several bracket groups ("rack[1-2]-n[1-2]": rack1-n1 rack1-n2 rack2-n1 rack2-n2). An empty list
// has no hosts.
func ExpandHostList(list string) ([]string, error) {
	var hosts []string
	for _, item := range splitTop(strings.TrimSpace(list)) {
		if item == "" {
			continue
		}
		names, err := expandHost(item)
		if err != nil {
			return nil, fmt.Errorf("host list %q: %w", list, err)
		}
		hosts = append(hosts, names...)
	}
	return hosts, nil
}

// splitTop splits s at the commas outside brackets.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// maxHosts bounds an expansion, so that a mistyped range cannot take all the memory.
const maxHosts = 1 << 20

func expandHost(item string) ([]string, error) {
	open := strings.IndexByte(item, '[')
	if open < 0 {
		if strings.IndexByte(item, ']') >= 0 {
			return nil, fmt.Errorf("%q: ']' without '['", item)
		}
		return []string{item}, nil
	}
	end := strings.IndexByte(item[open:], ']')
	if end < 0 {
		return nil, fmt.Errorf("%q: '[' without ']'", item)
	}
	end += open
	prefix, body, rest := item[:open], item[open+1:end], item[end+1:]
	if strings.IndexByte(prefix, ']') >= 0 || strings.IndexByte(body, '[') >= 0 {
		return nil, fmt.Errorf("%q: unbalanced brackets", item)
	}
	if body == "" {
		return nil, fmt.Errorf("%q: empty brackets", item)
	}
	var mids []string
	for _, part := range strings.Split(body, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if lo == "" || hi == "" || err1 != nil || err2 != nil || a < 0 || b < 0 {
			return nil, fmt.Errorf("%q: %q is not a number or a range of numbers", item, part)
		}
		if b < a {
			return nil, fmt.Errorf("%q: range %q runs backwards", item, part)
		}
		if b-a >= maxHosts || len(mids)+b-a >= maxHosts {
			return nil, fmt.Errorf("%q: more than %d hosts", item, maxHosts)
		}
		width := len(lo)
		for n := a; n <= b; n++ {
			mids = append(mids, fmt.Sprintf("%0*d", width, n))
		}
	}
	tails, err := expandHost(rest)
	if err != nil {
		return nil, err
	}
	if len(mids)*len(tails) > maxHosts {
		return nil, fmt.Errorf("%q: more than %d hosts", item, maxHosts)
	}
	out := make([]string, 0, len(mids)*len(tails))
	for _, m := range mids {
		for _, t := range tails {
			out = append(out, prefix+m+t)
		}
	}
	return out, nil
}

// expandTasksPerNode expands SLURM_TASKS_PER_NODE ("2(x3),1") into one count per node (2 2 2 1).
func expandTasksPerNode(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		count, times := part, "1"
		if i := strings.Index(part, "(x"); i >= 0 && strings.HasSuffix(part, ")") {
			count, times = part[:i], part[i+2:len(part)-1]
		}
		c, err1 := strconv.Atoi(count)
		t, err2 := strconv.Atoi(times)
		if err1 != nil || err2 != nil || c < 0 || t < 1 || t > maxHosts || len(out)+t > maxHosts {
			return nil, fmt.Errorf("%q is not a count like 4 or 4(x2)", part)
		}
		for range t {
			out = append(out, c)
		}
	}
	return out, nil
}
