package dlr

import "fmt"

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
