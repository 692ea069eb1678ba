package pgxbackend

import "context"

// Hooks are the fault seams of the package's tests; see hooks.
type Hooks struct {
	OnCancel  func()
	OnReturn  func(ctx context.Context)
	LockTried func(took bool) error
	UnlockTry func(try int) error
	Terminate func() error
	Probe     func()
}

// SetHooks installs h on b.
func SetHooks(b *Backend, h Hooks) {
	b.hooks = hooks{onCancel: h.OnCancel, onReturn: h.OnReturn, lockTried: h.LockTried, unlockTry: h.UnlockTry, terminate: h.Terminate, probe: h.Probe}
}
