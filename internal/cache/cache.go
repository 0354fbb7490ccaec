package cache

import (
	"context"
	"errors"
	"time"
)

// ErrUnavailable reports that a cache backend could not answer (down, slow or
// failing). Callers normally treat it as a miss.
var ErrUnavailable = errors.New("cache: unavailable")

// Cache is a key/value cache with per-entry TTL.
//
// Get returns (value, true, nil) on a hit, (zero, false, nil) on a miss and a
// non-nil error when the backend could not answer. Set stores value for ttl;
// a ttl <= 0 stores nothing.
type Cache[V any] interface {
	Get(ctx context.Context, key string) (V, bool, error)
	Set(ctx context.Context, key string, value V, ttl time.Duration) error
}
