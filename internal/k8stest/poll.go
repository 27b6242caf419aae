package k8stest

import (
	"context"
	"time"
)

// defaultWait bounds the harness's waits when ctx has no deadline of its own.
const defaultWait = time.Minute

// poll calls cond every 20 ms until it reports done, returns an error, or ctx (or, without
// a deadline on ctx, defaultWait) runs out.
func poll(ctx context.Context, cond func() (bool, error)) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultWait)
		defer cancel()
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		done, err := cond()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
