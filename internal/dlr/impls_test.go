package dlr

import "testing"

type queueImpl struct {
	name string
	// new returns an empty queue for a test or benchmark; queues that need
	// a server the machine lacks skip tb.
	newTB func(tb testing.TB) Queue
}

func (i queueImpl) new(t *testing.T) Queue  { return i.newTB(t) }
func (i queueImpl) newB(b *testing.B) Queue { return i.newTB(b) }

func queueImpls() []queueImpl {
	return []queueImpl{
		{"memory", func(testing.TB) Queue { return NewMemoryQueue(MemoryOptions{}) }},
		{"redis", newTestRedisQueue},
	}
}
