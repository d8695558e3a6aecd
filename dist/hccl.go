package dist

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/resnext/resnext/dist/launch"
	"github.com/resnext/resnext/ops"
)

// HCCLOptions configure JoinHCCL.
type HCCLOptions struct {
	// RankTable is a rank table file (JSON, as MindSpore's RANK_TABLE_FILE): when set, the ranks
	// meet through it (HcclCommInitClusterInfo) and the scheduler is not used. Empty means the
	// RANK_TABLE_FILE environment variable, and when that is empty too, a root info published
	// through the scheduler (HcclCommInitRootInfo).
	RankTable string
	// ConnectTimeout, when not 0, is how long HCCL waits for the ranks to connect once they have
	// met at the scheduler: JoinHCCL sets HCCL_CONNECT_TIMEOUT (whole seconds, HCCL takes 120 s to
	// 7200 s) for the process. 0 leaves HCCL_CONNECT_TIMEOUT as it is (HCCL's default: 120 s).
	ConnectTimeout time.Duration
}

// EnvRankTable is MindSpore's variable naming a rank table file, read by JoinHCCL.
const EnvRankTable = "RANK_TABLE_FILE"

// rootInfoKey is the scheduler's key under which rank 0 publishes the HCCL root info; a value
// starting with rootInfoFailed carries rank 0's reason for having none.
const (
	rootInfoKey    = "hccl/root_info"
	rootInfoFailed = "error: "
	rootInfoBytes  = 4108 // HCCL_ROOT_INFO_BYTES
)

// JoinHCCL makes b's Communicator over HCCL for the job env describes. b must be the Ascend backend
// (ops/ascend, through ops.Collectives), whose device is this rank's. The ranks meet first through the job's scheduler at
// env.Addr() (rendezvous.Join, within env's cluster timeout, so that a rank that never starts is
// named), then rank 0 makes HCCL's root info and publishes it under the attempt's scope, every
// other rank reads it, and each joins the communicator (HcclCommInitRootInfo), which HCCL bounds
// by HCCL_CONNECT_TIMEOUT; ctx does not interrupt that last step. With a rank table (opts.RankTable
// or RANK_TABLE_FILE) the ranks meet through it instead. HCCL reads its own variables too:
// HCCL_IF_IP or HCCL_SOCKET_IFNAME choose the network rank 0 listens on across machines.
func JoinHCCL(ctx context.Context, b ops.Backend, env launch.Env, opts HCCLOptions) (Communicator, error) {
	fail := func(err error, hint string) (Communicator, error) {
		if hint != "" {
			return nil, fmt.Errorf("dist: rank %d of %d: %w; %s", env.Rank, env.Size, err, hint)
		}
		return nil, fmt.Errorf("dist: rank %d of %d: %w", env.Rank, env.Size, err)
	}
	if opts.ConnectTimeout != 0 {
		s := int64(opts.ConnectTimeout / time.Second)
		if opts.ConnectTimeout%time.Second != 0 || s < 120 || s > 7200 {
			return fail(fmt.Errorf("HCCL connect timeout %v: HCCL takes whole seconds from 120 s to 7200 s", opts.ConnectTimeout), "")
		}
		if err := os.Setenv("HCCL_CONNECT_TIMEOUT", strconv.FormatInt(s, 10)); err != nil {
			return fail(err, "")
		}
	}
	cb, ok := b.(ops.Collectives)
	if !ok {
		name := "nil"
		if b != nil {
			name = b.Name()
		}
		return fail(fmt.Errorf("JoinHCCL needs a backend with device collectives (the Ascend one), not %s", name),
			"use JoinTCP for the CPU backend")
	}
	table := opts.RankTable
	if table == "" {
		table = os.Getenv(EnvRankTable)
	}
	if table != "" {
		c, err := cb.NewCollectiveRankTable(table, env.Rank)
		if err != nil {
			return fail(err, "check the rank table "+table+" (its status, this rank's device_id) and that every rank started")
		}
		if c.Size() != env.Size {
			c.Close()
			return fail(fmt.Errorf("the rank table %s has %d ranks, the launcher says %d", table, c.Size(), env.Size),
				"give every worker the same RANK_SIZE as the table")
		}
		return c, nil
	}
	ri, err := shareRootInfo(ctx, cb, env)
	if err != nil {
		return fail(err, "")
	}
	c, err := cb.NewCollective(ri, env.Rank, env.Size)
	if err != nil {
		return fail(err, "every rank must reach JoinHCCL; across machines check that rank 0's address is reachable "+
			"(HCCL_IF_IP or HCCL_SOCKET_IFNAME) and HCCL_CONNECT_TIMEOUT")
	}
	return c, nil
}

// shareRootInfo meets the other ranks at the scheduler; rank 0 then makes HCCL's root info and
// publishes it, the others read it.
func shareRootInfo(ctx context.Context, b ops.Collectives, env launch.Env) ([]byte, error) {
	// Every rank registers first, so that a rank that never starts is named after the timeout.
	c, _, timeout, err := meet(ctx, env, "hccl")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	key := env.Scope() + rootInfoKey
	if env.Rank == 0 {
		ri, err := b.CollectiveRootInfo()
		if err != nil {
			// The others wait for the key: give them the reason rather than a timeout.
			c.Set(ctx, key, []byte(rootInfoFailed+err.Error()))
			return nil, err
		}
		if err := c.Set(ctx, key, ri); err != nil {
			return nil, fmt.Errorf("publishing the HCCL root info: %w", err)
		}
		return ri, nil
	}
	gctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		gctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	ri, err := c.Get(gctx, key)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, fmt.Errorf("rank 0 did not publish the HCCL root info within %v (cluster_time_out): %w", timeout, err)
		}
		return nil, fmt.Errorf("reading the HCCL root info: %w", err)
	}
	if reason, failed := strings.CutPrefix(string(ri), rootInfoFailed); failed && len(ri) != rootInfoBytes {
		return nil, fmt.Errorf("rank 0 could not make the HCCL root info: %s", reason)
	}
	return ri, nil
}

// A device's collectives are a Communicator.
var _ Communicator = ops.Collective(nil)
