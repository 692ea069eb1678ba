package execute

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/internal/sqlsplit"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// Retrying a step after a lock timeout waits from retryMin, doubling, up
// to retryMax between tries.
const (
	retryMin = time.Second
	retryMax = 30 * time.Second
)

// runTx runs a step and its record in one transaction, again after a lock
// timeout as many times as the options allow.
func (r *runner) runTx(ctx context.Context, sess backend.Session, st plan.Step, sc *source.Script, async bool) error {
	ch := backend.Change{Op: backend.Delete, Record: backend.Record{Version: st.Version}}
	switch {
	case st.Repeatable:
		ch = repeatChange(st)
	case st.Direction == source.Up:
		ch = backend.Change{Op: backend.Insert, Record: backend.Record{Version: st.Version, Name: st.Name, Checksum: st.Checksum,
			Down: st.Down, DownSQL: st.DownSQL}}
	}
	pause := retryMin
	for try := 0; ; try++ {
		err := sess.Apply(ctx, backend.Step{SQL: st.SQL, Change: ch, Limits: r.limits(), Async: async})
		if err == nil {
			return nil
		}
		if try >= r.opts.LockTimeoutRetries || r.opts.SingleTransaction || !lockTimedOut(err) {
			return stepError(st, sc, err, -1, false)
		}
		wait := pause/2 + rand.N(pause)
		r.log.WarnContext(ctx, "waymark: step gave up waiting for a table lock; trying again",
			"version", st.Version, "try", try+1, "of", r.opts.LockTimeoutRetries+1, "pause", wait.Round(time.Millisecond), "error", err)
		select {
		case <-ctx.Done():
			return stepError(st, sc, err, -1, false)
		case <-time.After(wait):
		}
		pause = min(2*pause, retryMax)
	}
}

// lockTimedOut reports whether err is PostgreSQL's lock_timeout
// (SQLSTATE 55P03, lock_not_available).
func lockTimedOut(err error) bool {
	var coded interface{ SQLState() string }
	return errors.As(err, &coded) && coded.SQLState() == "55P03"
}

// repeatChange is the history change that records a repeatable script's
// step.
func repeatChange(st plan.Step) backend.Change {
	return backend.Change{Op: backend.Repeat, Record: backend.Record{Name: st.Name, Checksum: st.Checksum}}
}

// runNoTx runs a step statement by statement: recorded dirty first, clean
// after. A repeatable script's step is recorded after its statements only:
// if one fails, the next run applies the script again from the start.
func (r *runner) runNoTx(ctx context.Context, sess backend.Session, st plan.Step, sc *source.Script) error {
	stmts := sc.Statements
	if st.Repeatable {
		for i, s := range stmts {
			r.log.DebugContext(ctx, "waymark: statement", "repeatable", st.Name, "statement", i+1, "of", len(stmts), "line", s.Pos.Line)
			if err := sess.Exec(ctx, s.SQL, r.limits()); err != nil {
				return stepError(st, sc, err, i, false)
			}
		}
		if err := sess.Apply(ctx, backend.Step{Change: repeatChange(st), Limits: r.limits()}); err != nil {
			return stepError(st, sc, err, -1, false)
		}
		return nil
	}
	mark := backend.Change{Op: backend.Update, Record: backend.Record{Version: st.Version, Dirty: st.Direction}}
	if st.Direction == source.Up {
		mark = backend.Change{Op: backend.Insert, Record: backend.Record{Version: st.Version, Name: st.Name, Checksum: st.Checksum, Dirty: source.Up,
			Down: st.Down, DownSQL: st.DownSQL}}
	}
	// The limits bound the marks' waits too (and tell the backend how long
	// a reply may take; see backend.Limits). A resumed step's version is
	// dirty already (the staleness check under the lock made sure of it).
	if !st.Resume {
		if err := sess.Apply(ctx, backend.Step{Change: mark, Limits: r.limits()}); err != nil {
			return stepError(st, sc, err, -1, false)
		}
	}
	start := time.Now()
	for i, s := range stmts {
		if b, ok := sc.Batch(i + 1); ok {
			if err := r.runBatch(ctx, sess, st, sc, i, b); err != nil {
				return err
			}
			continue
		}
		r.log.DebugContext(ctx, "waymark: statement", "version", st.Version, "statement", i+1, "of", len(stmts), "line", s.Pos.Line)
		if err := sess.Exec(ctx, s.SQL, r.limits()); err != nil {
			return stepError(st, sc, err, i, true)
		}
	}
	done := backend.Change{Op: backend.Delete, Record: backend.Record{Version: st.Version}}
	if st.Direction == source.Up {
		done = backend.Change{Op: backend.Update, Record: backend.Record{Version: st.Version, Duration: max(time.Since(start), time.Microsecond)}}
	}
	if err := sess.Apply(ctx, backend.Step{Change: done, Limits: r.limits()}); err != nil {
		return stepError(st, sc, err, -1, true)
	}
	return nil
}

// stepError wraps err, locating it in the step's file when the script
// raised it. stmt is the index of the statement that ran alone
// (no-transaction steps), or -1 when the whole script ran at once.
func stepError(st plan.Step, sc *source.Script, err error, stmt int, dirty bool) error {
	e := &StepError{Version: st.Version, Direction: st.Direction, Pos: source.Position{Path: st.Path}, Repeatable: repeatableName(st),
		Statements: len(sc.Statements), Dirty: dirty, Err: err}
	var se *backend.ScriptError
	var ce *backend.ConnectionError
	switch {
	case errors.As(err, &se):
		e.Pos = locate(sc, se.Pos, stmt)
		e.Detail, e.ServerHint = se.Detail, se.Hint
	case stmt >= 0:
		// Not the script's error, but while its statement ran.
		e.Pos = sc.Statements[stmt].Pos
	}
	var coded interface{ SQLState() string }
	switch {
	case errors.As(err, &ce) && dirty:
		e.Hint = fmt.Sprintf("the connection broke while the statement ran: whether it took effect is unknown; check what it did "+
			"(waymark status shows version %d dirty) before you resolve the version", st.Version)
	case errors.As(err, &ce) && ce.Outcome == backend.OutcomeRolledBack:
		e.Hint = "the connection broke and the server rolled the step back: nothing of it is applied; run again"
	case errors.As(err, &ce):
		e.Hint = fmt.Sprintf("the connection broke before the server confirmed the step: whether version %d is applied is unknown; "+
			"the history tells (waymark status), and running again reads it and finishes the job", st.Version)
	case errors.Is(err, backend.ErrLockLost):
		e.Hint = "nothing of the step ran"
	case !st.NoTransaction && errors.As(err, &coded) && coded.SQLState() == "25001":
		e.Hint = "this statement cannot run inside a transaction block: run it from a script with -- waymark:no-transaction, and not from a function or DO block"
	case lockTimedOut(err) && dirty:
		e.Hint = "a table the statement needs stayed locked by another session for longer than Options.LockTimeout; the statement was stopped, and is never tried again outside a transaction"
	case lockTimedOut(err):
		e.Hint = "a table the step needs stayed locked by another session for longer than Options.LockTimeout; nothing of the step is applied"
	}
	return e
}

// repeatableName is the name of a repeatable script's step, or "".
func repeatableName(st plan.Step) string {
	if st.Repeatable {
		return st.Name
	}
	return ""
}

// locate turns pos, a place in the SQL text the backend ran, into a place
// in the script's file. The text is the whole script (stmt is -1) or its
// statement stmt alone.
func locate(sc *source.Script, pos source.Position, stmt int) source.Position {
	stmts := sc.Statements
	statementStart := func(i int) source.Position {
		if i < 0 || i >= len(stmts) {
			return source.Position{Path: sc.Path}
		}
		return stmts[i].Pos
	}
	if stmt >= 0 {
		if !pos.IsValid() || pos.Offset < 0 || pos.Offset > len(stmts[stmt].SQL) {
			return statementStart(stmt)
		}
		return fileAt(sc, stmts[stmt].Pos.Offset+pos.Offset, stmt+1)
	}
	switch {
	case pos.IsValid() && pos.Offset >= 0 && pos.Offset <= len(sc.SQL):
		n := pos.Statement
		if n == 0 {
			// The statement the offset is in.
			for i := range stmts {
				if stmts[i].Pos.Offset <= pos.Offset {
					n = i + 1
				}
			}
		}
		return fileAt(sc, pos.Offset, n)
	case pos.Statement > 0 && pos.Statement <= len(stmts):
		return statementStart(pos.Statement - 1)
	}
	return source.Position{Path: sc.Path, Statement: pos.Statement}
}

// fileAt is the position of byte offset off in the script's file.
func fileAt(sc *source.Script, off, statement int) source.Position {
	at := sqlsplit.Locate(sc.SQL, off)
	return source.Position{Path: sc.Path, Line: at.Line, Column: at.Column, Offset: at.Offset, Statement: statement}
}
