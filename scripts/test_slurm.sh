#!/usr/bin/env bash
# Runs data-parallel training under a real, single-node Slurm on this machine:
#
#   1. installs Debian's slurm-wlm and munge when they are missing (apt-get, as root);
#   2. starts munged, slurmctld and slurmd in the background from a temporary directory (their own
#      slurm.conf for this one host, munge key, state, logs and ports; nothing of /etc is changed)
#      and waits for the node to be idle;
#   3. srun -N1 -n2 of a shell (Slurm starts tasks here), then of a small Go program that reads its
#      place in the job with dist/launch.FromEnv, starts the scheduler on rank 0 and all-reduces a
#      tensor over dist.JoinTCP (the environment parses and the ranks meet);
#   4. srun -N1 -n2 resnext train -c configs/cpu/fashion_mnist.yaml --distribute True on a few
#      hundred images, one epoch: both tasks must succeed, each logging a job of 2 ranks, end the
#      epoch with the same loss, and only rank 0 write checkpoints;
#   5. sbatch --wait scripts/slurm/train.sbatch with the CPU settings, once per launcher (srun: one
#      task per worker; msrun: one resnext msrun per node);
#
# then stops the daemons and removes the directory (KEEP=1 keeps it, with every log).
#
# Environment:
#   SLURM_TEST_OPTIONAL=1  when this machine cannot run Slurm (not root, no apt-get, slurmd cannot
#                          start, ...), print "skipped: <reason>" and exit 0; without it such a machine
#                          is an error (exit 3). A failing check exits 1.
#   RESNEXT_BIN            the resnext binary to run (default: go build of this repository)
#   KEEP=1                 keep the temporary directory
#   NUM_SAMPLES            training images for the train steps (default 512)
#   SLURM_TEST_REQUEUE=1   also check that train.sbatch requeues a failed run (MAX_RESTARTS=1) and
#                          that it runs again as attempt 1 (about 3 minutes more: Slurm holds a
#                          requeued job before it runs again)
#
# Takes about 20 s once the packages are installed (installing them adds 10-60 s).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
start=$(date +%s)
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

skip() {
	if [ "${SLURM_TEST_OPTIONAL:-0}" = 1 ]; then
		echo "skipped: $*"
		exit 0
	fi
	echo "test_slurm: cannot run Slurm here: $* (SLURM_TEST_OPTIONAL=1 makes this a skip)" >&2
	exit 3
}

[ "$(uname -s)" = Linux ] || skip "Slurm's daemons need Linux, this is $(uname -s)"
if [ "$(id -u)" != 0 ]; then
	# The daemons run as root (SlurmUser=root); re-run under sudo when it needs no password.
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		exec sudo -n -E PATH="$PATH" bash "$0" "$@"
	fi
	skip "needs root (or password-less sudo) to start slurmd"
fi

# 1. Packages.
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v srun >/dev/null ||
	! command -v munged >/dev/null; then
	command -v apt-get >/dev/null || skip "slurm-wlm and munge are not installed and there is no apt-get"
	echo "== installing slurm-wlm and munge (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null; }; then
		skip "apt-get install slurm-wlm munge failed"
	fi
fi
slurmd -V >/dev/null 2>&1 || skip "slurmd does not run: $(slurmd -V 2>&1 | head -n1)"

# 2. The daemons, from a directory of their own.
tmp=$(mktemp -d /tmp/resnext-slurm.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
	local status=$?
	# Jobs still running (a check timed out) are cancelled while the daemons can still do it.
	if [ ${#pids[@]} -ge 3 ] && [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
		scancel --partition=test 2>/dev/null || true
		for _ in $(seq 20); do
			[ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
			sleep 0.5
		done
	fi
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill "${pids[i]}" 2>/dev/null || true
	done
	for pid in ${pids[@]+"${pids[@]}"}; do
		wait "$pid" 2>/dev/null || true
	done
	if [ "${KEEP:-0}" = 1 ] || [ "$status" != 0 ]; then
		echo "test_slurm: logs kept in $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$tmp/munge-key" "$tmp/munge-run" "$tmp/state" "$tmp/spool" "$tmp/log" "$tmp/bin"
chmod 700 "$tmp/munge-key"
chmod 755 "$tmp/munge-run" # munged wants its socket's directory searchable by all
head -c 1024 /dev/urandom >"$tmp/munge-key/munge.key"
chmod 400 "$tmp/munge-key/munge.key"

# A free TCP port in 20000..29999 (nothing answers on it).
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 10000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "test_slurm: no free port found" >&2
	return 1
}
ctld_port=$(free_port)
slurmd_port=$(free_port)
[ "$slurmd_port" != "$ctld_port" ] || slurmd_port=$((ctld_port + 1))

host=$(hostname -s)
# The node's CPUs, sockets, cores and memory as slurmd sees them, else nproc's count.
node=$(slurmd -C 2>/dev/null | grep '^NodeName=' | sed 's/ UpTime=[^ ]*//') || true
[ -n "$node" ] || node="NodeName=$host CPUs=$(nproc)"
node_name=${node#NodeName=}
node_name=${node_name%% *}
cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")
cat >"$tmp/slurm.conf" <<EOF
# A one-host cluster for scripts/test_slurm.sh: no cgroups, no accounting, root daemons.
ClusterName=resnexttest
SlurmctldHost=$node_name(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$tmp/munge-run/munge.socket
CredType=cred/munge
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
PlugStackConfig=$tmp/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
FirstJobId=$((1 + RANDOM % 10000))
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes=$node_name Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
: >"$tmp/plugstack.conf"
export SLURM_CONF=$tmp/slurm.conf

echo "== starting munged, slurmctld, slurmd ($tmp; ports $ctld_port, $slurmd_port; node $node_name, $cpus CPUs)"
munged -F --socket="$tmp/munge-run/munge.socket" --key-file="$tmp/munge-key/munge.key" \
	--pid-file="$tmp/munge-run/munged.pid" --seed-file="$tmp/munge-key/munged.seed" \
	--log-file="$tmp/log/munged.log" >"$tmp/log/munged.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
	[ -S "$tmp/munge-run/munge.socket" ] && break
	kill -0 "${pids[0]}" 2>/dev/null || break
	sleep 0.1
done
[ -S "$tmp/munge-run/munge.socket" ] || skip "munged did not start: $(tail -n3 "$tmp/log/munged.out" | tr '\n' ' ')"

slurmctld -D -c -f "$SLURM_CONF" >"$tmp/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$node_name" >"$tmp/log/slurmd.out" 2>&1 &
pids+=($!)
state=
for _ in $(seq 60); do
	state=$(sinfo -h -n "$node_name" -o %T 2>/dev/null || true)
	[ "$state" = idle ] && break
	for pid in "${pids[@]}"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			skip "a Slurm daemon exited at start: $(grep -h -i -m3 'error\|fatal' "$tmp"/log/slurm*.out "$tmp"/log/slurm*.log 2>/dev/null | tr '\n' ' ')"
		fi
	done
	sleep 0.5
done
[ "$state" = idle ] || skip "the node is not idle after 30 s (sinfo: '${state:-nothing}'); see $tmp/log"
sinfo
echo "   ($(($(date +%s) - start)) s so far)"

# The binaries, built outside the repository.
go=$(command -v go || true)
if [ -n "${RESNEXT_BIN:-}" ]; then
	bin=$RESNEXT_BIN
else
	[ -n "$go" ] || skip "no go to build resnext and no RESNEXT_BIN"
	if ! (cd "$repo" && "$go" build -o "$tmp/bin/resnext" ./cmd/resnext); then
		echo "test_slurm: go build ./cmd/resnext failed" >&2
		exit 1
	fi
	bin=$tmp/bin/resnext
fi
cat >"$tmp/bin/probe.go" <<'EOF'
// probe reads its place in the job as resnext train does (dist/launch.FromEnv); rank 0 starts the
// scheduler, every rank joins the TCP ring and all-reduces its rank + 1.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/resnext/resnext/dist"
	"github.com/resnext/resnext/dist/launch"
	"github.com/resnext/resnext/dist/rendezvous"
	"github.com/resnext/resnext/dist/tcp"
	"github.com/resnext/resnext/ops"
	"github.com/resnext/resnext/ops/cpu"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

func run() error {
	env, err := launch.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	fmt.Printf("env launcher=%s rank=%d size=%d local_rank=%d local_size=%d master=%s device=%d restart=%d\n",
		env.Launcher, env.Rank, env.Size, env.LocalRank, env.LocalSize, env.Addr(), env.DeviceID, env.Restart)
	if env.Rank == 0 {
		s, err := rendezvous.Listen(":" + strconv.Itoa(env.MasterPort))
		if err != nil {
			return err
		}
		defer s.Close()
	}
	env.ClusterTimeout = 30 * time.Second
	b := cpu.New(cpu.Options{Threads: 1})
	defer b.Close()
	c, err := dist.JoinTCP(context.Background(), b, env, "127.0.0.1", tcp.Options{Timeout: 30 * time.Second})
	if err != nil {
		return err
	}
	defer c.Close()
	x := ops.FromFloat32(b, ops.Float32, ops.Shape{1}, []float32{float32(env.Rank + 1)})
	defer b.Free(x)
	if err := c.AllReduce(x, false); err != nil {
		return err
	}
	v, err := ops.ToFloat32(b, x)
	if err != nil {
		return err
	}
	if err := c.Barrier(); err != nil {
		return err
	}
	want := float32(env.Size * (env.Size + 1) / 2)
	if v[0] != want {
		return fmt.Errorf("rank %d: all-reduce gave %v, want %v", env.Rank, v[0], want)
	}
	fmt.Printf("allreduce rank=%d sum=%v ok\n", env.Rank, v[0])
	return nil
}
EOF
if [ -n "$go" ]; then
	if ! (cd "$repo" && "$go" build -o "$tmp/bin/probe" "$tmp/bin/probe.go"); then
		echo "test_slurm: go build of the probe ($tmp/bin/probe.go) failed" >&2
		exit 1
	fi
fi

failures=()
results=()
step() { # step NAME SECONDS STATUS
	results+=("$(printf '%-40s %4ss  %s' "$1" "$2" "$3")")
	[ "$3" = ok ] || failures+=("$1")
}

# 3. Slurm starts tasks, and they find each other.
echo "== srun -N1 -n2 sh (SLURM_PROCID SLURM_NTASKS SLURM_LOCALID SLURM_JOB_NODELIST SLURM_JOB_ID)"
t0=$(date +%s)
# shellcheck disable=SC2016 # expanded by each task's shell
out=$(timeout 60 srun -N1 -n2 sh -c 'echo "$SLURM_PROCID $SLURM_NTASKS $SLURM_LOCALID $SLURM_JOB_NODELIST $SLURM_JOB_ID"' 2>&1) || true
echo "$out"
if [ "$(grep -c " 2 .* $node_name " <<<"$out")" = 2 ]; then
	step "srun sh" $(($(date +%s) - t0)) ok
else
	step "srun sh" $(($(date +%s) - t0)) FAILED
fi

if [ -x "$tmp/bin/probe" ]; then
	echo "== srun -N1 -n2 probe (launch.FromEnv, scheduler on rank 0, dist.JoinTCP, AllReduce)"
	t0=$(date +%s)
	status=0
	out=$(timeout 120 srun -N1 -n2 --kill-on-bad-exit=1 --label "$tmp/bin/probe" 2>&1) || status=$?
	echo "$out"
	if [ "$status" = 0 ] && [ "$(grep -c 'allreduce rank=.* sum=3 ok' <<<"$out")" = 2 ] &&
		grep -q 'launcher=slurm rank=1 size=2 local_rank=1 local_size=2' <<<"$out"; then
		step "srun probe (env + all-reduce)" $(($(date +%s) - t0)) ok
	else
		step "srun probe (env + all-reduce)" $(($(date +%s) - t0)) "FAILED (exit $status)"
	fi
fi

# 4. The real thing: two workers of one training job.
samples=${NUM_SAMPLES:-512}
check_train() { # check_train NAME STATUS OUTPUT CKPT_DIR: both ranks trained as one job
	local name=$1 status=$2 out=$3 ckpt=$4 why=
	if [ "$status" != 0 ]; then
		why="exit $status"
	elif grep -q 'as the only worker' <<<"$out" || [ "$(grep -c '^ *[01]: .*data-parallel training.*"ranks": 2' <<<"$out")" != 2 ]; then
		why="ranks 0 and 1 did not both log data-parallel training with 2 ranks (separate single workers?)"
	elif [ "$(grep '^ *[01]: .*epoch done' <<<"$out" | grep -o '"loss": [0-9.e+-]*' | sort -u | wc -l)" != 1 ]; then
		why="the ranks ended the epoch with different losses (not one job): $(grep -o '^ *[01]: .*epoch done.*"loss": [0-9.e+-]*' <<<"$out" | tr '\n' ' ')"
	elif ! ls "$ckpt"/*.ckpt >/dev/null 2>&1; then
		why="no checkpoint in $ckpt"
	elif grep -q '^ *1: .*checkpoint saved' <<<"$out"; then
		why="rank 1 saved a checkpoint (only rank 0 writes them)"
	fi
	if [ -z "$why" ]; then
		step "$name" $(($(date +%s) - t0)) ok
	else
		step "$name" $(($(date +%s) - t0)) "FAILED ($why)"
	fi
}
cd "$tmp"
echo "== srun -N1 -n2 resnext train -c configs/cpu/fashion_mnist.yaml --distribute True (1 epoch, $samples images)"
t0=$(date +%s)
status=0
out=$(timeout 600 srun -N1 -n2 --kill-on-bad-exit=1 --label "$bin" train -c "$repo/configs/cpu/fashion_mnist.yaml" \
	--distribute True --epoch_size 1 --num_samples "$samples" --num_parallel_workers 1 \
	--ckpt_save_dir "$tmp/ckpt-srun" 2>&1) || status=$?
echo "$out" | tail -n 12
check_train "srun resnext train --distribute True" "$status" "$out" "$tmp/ckpt-srun"

# 5. The sbatch script, with the CPU settings, under each of its launchers.
for launcher in srun msrun; do
	echo "== sbatch scripts/slurm/train.sbatch (LAUNCHER=$launcher, 1 node x 2 tasks, CPU)"
	t0=$(date +%s)
	status=0
	job=$(LAUNCHER=$launcher RESNEXT_BIN=$bin CONFIG=$repo/configs/cpu/fashion_mnist.yaml DATA_DIR='' \
		LOG_DIR=$tmp/logs-$launcher MAX_RESTARTS=0 \
		sbatch --parsable --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 --time=10:00 \
		--output="$tmp/sbatch-$launcher.out" "$repo/scripts/slurm/train.sbatch" \
		--epoch_size 1 --num_samples "$samples" --num_parallel_workers 1 \
		--ckpt_save_dir "$tmp/ckpt-sbatch-$launcher") || status=$?
	# Poll rather than sbatch --wait, which looks only every few seconds.
	info=
	for _ in $(seq 1200); do
		[ "$status" = 0 ] || break
		info=$(scontrol -o show job "$job" 2>/dev/null || true)
		case $info in *JobState=PENDING* | *JobState=RUNNING* | *JobState=CONFIGURING* | *JobState=COMPLETING* | "") ;; *) break ;; esac
		sleep 0.5
	done
	if [ "$status" = 0 ]; then
		state=$(grep -o 'JobState=[A-Z_]*' <<<"$info" || true)
		exit_code=$(grep -o ' ExitCode=[0-9:]*' <<<"$info" || true)
		echo "job $job: ${state:-no state} ${exit_code# }"
		[ "$state" = JobState=COMPLETED ] || status=1
	fi
	out=$(cat "$tmp/sbatch-$launcher.out" 2>/dev/null || true)
	for f in "$tmp/logs-$launcher"/worker_*.log; do
		[ -f "$f" ] || continue
		r=${f##*/worker_}
		out+=$'\n'$(sed "s/^/${r%.log}: /" "$f")
	done
	echo "$out" | tail -n 12
	check_train "sbatch train.sbatch ($launcher)" "$status" "$out" "$tmp/ckpt-sbatch-$launcher"
done

# 6. Optional (Slurm holds a requeued job for about two minutes before it runs again): a run that
# fails is requeued by train.sbatch with MAX_RESTARTS=1 and runs again as attempt 1.
if [ "${SLURM_TEST_REQUEUE:-0}" = 1 ]; then
	echo "== sbatch train.sbatch MAX_RESTARTS=1 with a failing run: requeued once, then failed (takes minutes)"
	t0=$(date +%s)
	why=
	job=$(LAUNCHER=srun RESNEXT_BIN=$bin CONFIG=$repo/configs/cpu/fashion_mnist.yaml DATA_DIR='' \
		LOG_DIR=$tmp/logs-requeue MAX_RESTARTS=1 \
		sbatch --parsable --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 --time=10:00 \
		--output="$tmp/sbatch-requeue.out" "$repo/scripts/slurm/train.sbatch" --epoch_size -1) || why="sbatch failed"
	info=
	for _ in $(seq 1200); do
		[ -z "$why" ] || break
		info=$(scontrol -o show job "$job" 2>/dev/null || true)
		case $info in *JobState=FAILED*Restarts=1* | *JobState=COMPLETED* | *JobState=CANCELLED*) break ;; esac
		sleep 0.5
	done
	grep -q 'JobState=FAILED.*Restarts=1' <<<"$info" || why="${why:-job $job ended as $(grep -o 'JobState=[A-Z_]*\|Restarts=[0-9]*' <<<"$info" | tr '\n' ' ')}"
	grep -q "job $job attempt 1" "$tmp/sbatch-requeue.out" 2>/dev/null || why="${why:-no attempt 1 in $tmp/sbatch-requeue.out}"
	cat "$tmp/sbatch-requeue.out" 2>/dev/null || true
	if [ -z "$why" ]; then
		step "sbatch train.sbatch requeue" $(($(date +%s) - t0)) ok
	else
		step "sbatch train.sbatch requeue" $(($(date +%s) - t0)) "FAILED ($why)"
	fi
fi

echo
echo "== summary ($(($(date +%s) - start)) s in all)"
printf '%s\n' "${results[@]}"
if [ ${#failures[@]} -gt 0 ]; then
	echo "FAILED: ${failures[*]}"
	exit 1
fi
echo "ok"
