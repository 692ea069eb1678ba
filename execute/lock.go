package execute

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/plan"
)

// Waiting for the lock polls the backend, from lockPollMin between tries
// up to lockPollMax; the Logger hears about the wait every lockLogEvery.
const (
	lockPollMin  = 5 * time.Millisecond
	lockPollMax  = 500 * time.Millisecond
	lockLogEvery = 5 * time.Second
)

// LockError is a wait for the migration lock that the context ended
// before the lock was free. It unwraps to [ErrLockTimeout] and to the
// context's error.
type LockError struct {
	// Holder is who held the lock at the last try.
	Holder backend.Holder
	// Waited is how long the wait lasted.
	Waited time.Duration
	// Err is the context's error.
	Err error
}

// Error names the holder and how long the wait lasted.
func (e *LockError) Error() string {
	return fmt.Sprintf("execute: %v after %v: held by %v: %v", ErrLockTimeout, e.Waited.Round(time.Millisecond), e.Holder, e.Err)
}

// Unwrap returns [ErrLockTimeout] and the context's error.
func (e *LockError) Unwrap() []error { return []error{ErrLockTimeout, e.Err} }

// checkBackend returns the error of a backend that reports invalid options
// (see backend.Checker), before anything touches the database.
func checkBackend(db backend.Backend) error {
	if c, ok := db.(backend.Checker); ok {
		return c.Check()
	}
	return nil
}

// lock waits until db's migration lock is free and takes it, or until ctx
// ends.
func lock(ctx context.Context, db backend.Backend, log *slog.Logger) (backend.Session, error) {
	start, delay := time.Now(), lockPollMin
	var lastLog time.Time
	var holder *backend.Holder // who held the lock at the last try, if anyone
	for {
		sess, err := db.TryLock(ctx)
		if err == nil {
			if !lastLog.IsZero() {
				log.InfoContext(ctx, "waymark: took the migration lock", "waited", time.Since(start).Round(time.Millisecond))
			}
			return sess, nil
		}
		var held *backend.LockedError
		if !errors.As(err, &held) {
			switch {
			case errors.Is(err, backend.ErrConnect):
				// Connecting is not waiting: say what failed.
				return nil, &Error{Err: ErrConnect, Cause: err}
			case ctx.Err() != nil && holder != nil:
				return nil, &LockError{Holder: *holder, Waited: time.Since(start), Err: ctx.Err()}
			}
			return nil, &Error{Err: ErrLock, Cause: err}
		}
		holder = &held.Holder
		if lastLog.IsZero() || time.Since(lastLog) >= lockLogEvery {
			msg := "waymark: waiting for the migration lock"
			if !lastLog.IsZero() {
				msg = "waymark: still waiting for the migration lock"
			}
			log.InfoContext(ctx, msg, "held_by", held.Holder.String(), "waited", time.Since(start).Round(time.Millisecond))
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, &LockError{Holder: held.Holder, Waited: time.Since(start), Err: ctx.Err()}
		case <-time.After(delay/2 + rand.N(delay)):
		}
		delay = min(2*delay, lockPollMax)
	}
}

// underLock takes the migration lock, reads the state under it, calls fn
// and releases the lock, even when ctx is cancelled.
func underLock(ctx context.Context, db backend.Backend, log *slog.Logger, fn func(backend.Session, plan.State) error) (err error) {
	start := time.Now()
	sess, err := lock(ctx, db, log)
	if err != nil {
		return err
	}
	log.DebugContext(ctx, "waymark: lock taken", "wait", time.Since(start))
	defer func() {
		if uerr := sess.Unlock(context.WithoutCancel(ctx)); uerr != nil {
			err = errors.Join(err, &Error{Err: ErrUnlock, Cause: uerr})
			return
		}
		log.DebugContext(ctx, "waymark: lock released")
	}()
	records, err := sess.ReadState(ctx)
	if err != nil {
		return &Error{Err: ErrReadState, Cause: err}
	}
	now := plan.State{Records: records}
	if rr, ok := sess.(backend.RepeatableReader); ok {
		if now.Repeatables, err = rr.ReadRepeatables(ctx); err != nil {
			return &Error{Err: ErrReadState, Cause: err}
		}
	}
	return fn(sess, now)
}
