package dlr

import (
	"context"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// eachMaster runs fn with the indexes of accounts whose slots one Cluster
// master serves, for every master at once (a goroutine each), and
// returns an error for each account whose master is not known; elsewhere
// (one server, Sentinel) it runs fn once with all of them. Acks of
// several accounts and the sweep's calls go through it so that a master that hangs holds only its own
// accounts' upkeep: one pipeline for all masters fails every command of
// it once its context ends during a retry (go-redis sets the error on
// each, those the other masters answered included), and calls made one
// account after another would spend the sweep's time on the hung
// master's accounts before reaching the others.
func (q *RedisQueue) eachMaster(ctx context.Context, accounts []string, fn func(idx []int)) []error {
	cc, cluster := q.c.(*redis.ClusterClient)
	if !cluster || len(accounts) <= 1 {
		idx := make([]int, len(accounts))
		for i := range idx {
			idx[i] = i
		}
		fn(idx)
		return nil
	}
	var errs []error
	byNode := make(map[string][]int)
	for i, sys := range accounts {
		node, err := cc.MasterForKey(ctx, q.accountKeys(sys)[0])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", sys, err))
			continue
		}
		addr := node.Options().Addr
		byNode[addr] = append(byNode[addr], i)
	}
	if len(byNode) == 1 {
		for _, idx := range byNode {
			fn(idx)
		}
		return errs
	}
	var wg sync.WaitGroup
	for _, idx := range byNode {
		wg.Go(func() { fn(idx) })
	}
	wg.Wait()
	return errs
}
