package rendezvous

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Keys Join uses. The job's size is fixed by the first rank to register; each rank counts its own
// registrations (more than one is a duplicate) and publishes its address.
const (
	keySizeClaims = "rendezvous/size_claims"
	keySize       = "rendezvous/size" // "<size> <rank that set it>"
)

func rankKey(scope string, rank int) string { return scope + "rendezvous/rank/" + strconv.Itoa(rank) }
func addrKey(scope string, rank int) string { return scope + "rendezvous/addr/" + strconv.Itoa(rank) }

// maxListed bounds how many missing ranks an error lists.
const maxListed = 32

// Join is what a rank does at start: it registers itself (rank, size, and self, its own address
// for peers to dial, e.g. the TCP ring's listener) and returns every rank's address in rank order
// once all size ranks have registered. Every key it uses starts with scope, so that the ranks of a
// job restarted under the same scheduler (launch.Env.Scope: one scope per attempt) meet afresh. After timeout (msrun's cluster_time_out; <= 0 waits until
// ctx ends) the error names the ranks that never arrived. A rank registering twice, or ranks that
// disagree on size, are errors naming them.
func Join(ctx context.Context, c *Client, scope string, rank, size int, self string, timeout time.Duration) ([]string, error) {
	if size < 1 || rank < 0 || rank >= size {
		return nil, fmt.Errorf("rendezvous at %s: rank %d of %d: want a size of at least 1 and 0 <= rank < size (check RANK_ID and RANK_SIZE)", c.addr, rank, size)
	}
	jctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		jctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	addrs, err := join(jctx, c, scope, rank, size, self)
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil && timeout > 0 {
		return nil, missing(ctx, c, scope, size, timeout, err)
	}
	return addrs, err
}

func join(ctx context.Context, c *Client, scope string, rank, size int, self string) ([]string, error) {
	n, err := c.Add(ctx, scope+keySizeClaims, 1)
	if err != nil {
		return nil, err
	}
	if n == 1 {
		err = c.Set(ctx, scope+keySize, []byte(strconv.Itoa(size)+" "+strconv.Itoa(rank)))
		if err != nil {
			return nil, err
		}
	} else {
		v, err := c.Get(ctx, scope+keySize)
		if err != nil {
			return nil, err
		}
		var first, firstRank int
		if _, err := fmt.Sscan(string(v), &first, &firstRank); err != nil {
			return nil, fmt.Errorf("rendezvous at %s: key %q holds %q, not a size and a rank", c.addr, keySize, v)
		}
		if first != size {
			return nil, fmt.Errorf("rendezvous at %s: ranks disagree on the job's size: rank %d says %d, rank %d (registered first) says %d; every worker needs the same RANK_SIZE",
				c.addr, rank, size, firstRank, first)
		}
	}
	if n, err = c.Add(ctx, rankKey(scope, rank), 1); err != nil {
		return nil, err
	}
	if n > 1 {
		return nil, fmt.Errorf("rendezvous at %s: rank %d of %d registered twice; two workers have the same RANK_ID (or a worker of an earlier run is still registered)", c.addr, rank, size)
	}
	if err := c.Set(ctx, addrKey(scope, rank), []byte(self)); err != nil {
		return nil, err
	}
	addrs := make([]string, size)
	for i := range addrs {
		v, err := c.Get(ctx, addrKey(scope, i))
		if err != nil {
			return nil, err
		}
		addrs[i] = string(v)
	}
	return addrs, nil
}

// missing builds the error of a Join that timed out: which ranks never registered.
func missing(ctx context.Context, c *Client, scope string, size int, timeout time.Duration, cause error) error {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var absent []string
	count := 0
	for r := range size {
		n, err := c.Add(qctx, rankKey(scope, r), 0)
		if err != nil {
			return fmt.Errorf("rendezvous at %s: not all %d ranks arrived within %v (cluster_time_out): %w", c.addr, size, timeout, cause)
		}
		if n == 0 {
			count++
			if len(absent) < maxListed {
				absent = append(absent, strconv.Itoa(r))
			}
		}
	}
	if count == 0 {
		return fmt.Errorf("rendezvous at %s: all %d ranks registered but the rendezvous did not finish within %v (cluster_time_out): %w", c.addr, size, timeout, cause)
	}
	list := strings.Join(absent, ", ")
	if count > len(absent) {
		list += fmt.Sprintf(" and %d more", count-len(absent))
	}
	noun := "ranks"
	if count == 1 {
		noun = "rank"
	}
	return fmt.Errorf("rendezvous at %s: %s %s of %d did not arrive within %v (cluster_time_out)", c.addr, noun, list, size, timeout)
}
