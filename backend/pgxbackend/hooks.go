package pgxbackend

import "context"

// hooks are fault seams for this package's tests (see export_test.go);
// the zero value does nothing.
type hooks struct {
	// onCancel is called when watch sends a cancel request.
	onCancel func()
	// onReturn is called when a statement watched by watch has returned,
	// before watch stops watching its context.
	onReturn func(ctx context.Context)
	// lockTried, if set, is called after a try for the lock returned; an
	// error it returns is taken as the try's.
	lockTried func(took bool) error
	// unlockTry, if set, is called before each try to release the lock; an
	// error it returns fails that try as a lost round trip would.
	unlockTry func(try int) error
	// terminate, if set, is called before the session ends its own server
	// process to release the lock; an error it returns fails that too.
	terminate func() error
	// probe, if set, is called when the session checks on a round trip
	// whose reply is late.
	probe func()
}

func (h *hooks) cancelSent() {
	if h.onCancel != nil {
		h.onCancel()
	}
}

func (h *hooks) returned(ctx context.Context) {
	if h.onReturn != nil {
		h.onReturn(ctx)
	}
}
