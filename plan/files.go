package plan

import (
	"errors"
	"fmt"

	"github.com/waymarkdb/waymark/source"
)

// ErrFileChanged means a step of a saved plan no longer matches the file it
// was made from ([Plan.CheckFiles]). Use [errors.Is].
var ErrFileChanged = errors.New("file changed since the plan was made")

// CheckFiles reports whether every step of p still has the SQL of its
// script in set: the check to make before running a plan that was saved
// earlier (a CI job's plan step), so that a file edited, renamed or deleted
// in between is noticed now rather than by the next plan's drift check. It
// returns nil, or an [ErrorList] with an [*Error] (wrapping
// [ErrFileChanged]) per step that differs, naming the file.
func (p *Plan) CheckFiles(set *source.Set) error {
	var errs ErrorList
	for _, s := range p.Steps {
		bad := func(path, format string, args ...any) {
			errs = append(errs, &Error{Err: ErrFileChanged, Version: s.Version, Path: path, Detail: fmt.Sprintf(format, args...)})
		}
		if s.Repeatable {
			r, ok := set.LookupRepeatable(s.Name)
			switch {
			case !ok:
				bad(s.Path, "the files no longer have the repeatable script %s (deleted or renamed?); plan again", s.Name)
			case r.Script.Checksum != s.Checksum:
				bad(r.Script.Path, "the plan has the repeatable script with checksum %s, the file now has %s; plan again, or restore the file", s.Checksum.Short(), r.Script.Checksum.Short())
			}
			continue
		}
		m, ok := set.Lookup(s.Version)
		switch {
		case s.FromHistory && ok:
			bad(s.Path, "the plan undoes version %d with the down script kept in the history, but the files now have the version; plan again", s.Version)
			continue
		case s.FromHistory:
			continue // its SQL is the history's, which the staleness check covers
		}
		if !ok {
			bad(s.Path, "the files no longer have version %d (deleted or renumbered?); plan again", s.Version)
			continue
		}
		sc := m.Up
		if s.Direction == source.Down {
			sc = m.Down
		}
		switch {
		case sc == nil:
			bad(s.Path, "the files no longer have a down script for version %d; plan again", s.Version)
		case sc.Checksum != s.Checksum:
			bad(sc.Path, "the plan has its %s script with checksum %s, the file now has %s; plan again, or restore the file", s.Direction, s.Checksum.Short(), sc.Checksum.Short())
		}
	}
	return errs.Err()
}
