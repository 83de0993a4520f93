package resolve

import (
	"context"
	"errors"
	"fmt"
)

// Failover tries targets in order, as RFC 3263 §4.3 asks of a client.
// attempt sends the request to one target — a new transaction each time,
// with a new Via branch — and returns what came of it; failed says whether
// that target failed and the next should be tried: §4.3 counts a transport
// error, a 503 response, and a timeout without any response, provisional
// or final (Timer B or F). A nil failed counts only a non-nil error.
//
// Failover returns the first result that did not fail, with its error.
// When every target fails it returns the last result, and the last error
// wrapped with how many targets were tried (nil when the last failure was
// a response, such as a 503: a response is a value). When ctx is done
// before an attempt it stops and returns the last result and ctx's error.
// An empty list is an error.
func Failover[R any](ctx context.Context, targets []Target,
	attempt func(ctx context.Context, t Target) (R, error),
	failed func(result R, err error) bool) (R, error) {
	if failed == nil {
		failed = func(_ R, err error) bool { return err != nil }
	}
	var (
		last R
		err  error
	)
	if len(targets) == 0 {
		return last, errors.New("resolve: no targets to try")
	}
	for i, t := range targets {
		if cerr := ctx.Err(); cerr != nil {
			return last, fmt.Errorf("resolve: stopped after %d of %d targets: %w", i, len(targets), cerr)
		}
		last, err = attempt(ctx, t)
		if !failed(last, err) {
			return last, err
		}
	}
	if err != nil {
		err = fmt.Errorf("resolve: all %d targets failed; the last, %s: %w", len(targets), targets[len(targets)-1], err)
	}
	return last, err
}
