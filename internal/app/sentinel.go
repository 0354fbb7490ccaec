package app

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/config"
)

// newSentinelClient parses
// redis-sentinel://[:password@]host:port[,host:port]/db?master=name.
func newSentinelClient(c config.Redis) (redis.UniversalClient, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("app: REDIS_URL: %w", err)
	}
	master := u.Query().Get("master")
	if master == "" {
		return nil, fmt.Errorf("app: REDIS_URL: a Sentinel URL needs ?master=name")
	}
	o := &redis.FailoverOptions{
		MasterName:    master,
		SentinelAddrs: strings.Split(u.Host, ","),
		PoolSize:      c.MaxConnections,
	}
	if p, ok := u.User.Password(); ok {
		o.Password = p
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil {
			return nil, fmt.Errorf("app: REDIS_URL: database %q is not a number", db)
		}
		o.DB = n
	}
	return redis.NewFailoverClient(o), nil
}
