package dlr

import (
	"context"
	"errors"
	"sync"

	"github.com/redis/go-redis/v9"
)

// eachMaster runs fn with the indexes of accounts whose slots one Cluster
// master serves, for every master at once (a goroutine each); elsewhere
// (one server, Sentinel) it runs fn once with all of them. It returns
// what fn returned, joined, and an error for each account whose master
// is not known (fn does not see those). Acks of
// several accounts and the sweep's calls go through it so that a master that hangs holds only its own
// accounts' upkeep: one pipeline for all masters fails every command of
// it once its context ends during a retry (go-redis sets the error on
// each, those the other masters answered included), and calls made one
// account after another would spend the sweep's time on the hung
// master's accounts before reaching the others.
func (q *RedisQueue) eachMaster(ctx context.Context, accounts []string, fn func(idx []int) error) error {
	cc, cluster := q.c.(*redis.ClusterClient)
	if !cluster || len(accounts) <= 1 {
		idx := make([]int, len(accounts))
		for i := range idx {
			idx[i] = i
		}
		return fn(idx)
	}
	var errs []error
	byNode := make(map[string][]int)
	for i, sys := range accounts {
		node, err := cc.MasterForKey(ctx, q.accountKeys(sys)[0])
		if err != nil {
			errs = append(errs, redisErr("master of "+sys, err))
			continue
		}
		addr := node.Options().Addr
		byNode[addr] = append(byNode[addr], i)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, idx := range byNode {
		run := func() {
			if err := fn(idx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}
		if len(byNode) == 1 { // the usual call: no goroutine
			run()
			break
		}
		wg.Go(run)
	}
	wg.Wait()
	return errors.Join(errs...)
}
