package dlr

import (
	"context"
	"fmt"
)

var _ putHook = (*Dispatcher)(nil)

// afterPut is ScheduleAsync's part of a put's result on a queue that runs
// putHooks: it counts the receipt scheduled, or names it in the error.
func (d *Dispatcher) afterPut(r *Receipt, err error) error {
	if err != nil {
		return fmt.Errorf("dlr: schedule %s: %w", r.MessageID, err)
	}
	d.scheduled(r)
	return nil
}

// scheduleOther is ScheduleAsync on a queue that runs no putHooks. Apart
// from ScheduleAsync, so that its closure does not move every receipt of
// the other paths to the heap.
func (d *Dispatcher) scheduleOther(r Receipt, done func(error)) {
	aq, ok := d.q.(AsyncQueue)
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), d.o.OpTimeout)
		defer cancel()
		done(d.Schedule(ctx, r))
		return
	}
	aq.PutAsync(r, func(err error) {
		if err != nil {
			done(fmt.Errorf("dlr: schedule %s: %w", r.MessageID, err))
			return
		}
		d.scheduled(&r)
		done(nil)
	})
}
