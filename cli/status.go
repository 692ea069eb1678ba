package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
	"github.com/waymarkdb/waymark/status"
)

func init() {
	register(&Command{
		Name:    "status",
		Summary: "show every version: applied (when, how long), pending, dirty, drifted, missing, out of order",
		Help: `Reads the history and compares it with the migration files. Takes no lock
and writes nothing, so it is safe against production at any time.
The problems listed are those for which a plan would be refused.
A migration file that cannot be read as one (a bad name, a statement that
needs -- waymark:no-transaction, ...) does not hide the database: the
state is shown against the other files (a version whose up file is bad
as bad-file), the file problems are listed beside it, and the exit code
is 1.
With -detailed-exitcode: 0 up to date, 4 steps pending, 3 a plan would be refused.`,
		Setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) (Outcome, error) {
			env.AddFlags(fs, DatabaseFlags|SetFlags|JSONFlag|DetailedFlag|PlanFlags)
			return func(ctx context.Context, args []string) (Outcome, error) {
				if len(args) > 0 {
					return Usage, usagef("status takes no arguments, got %q", args)
				}
				set, bad, badUps, err := env.readableSet()
				if err != nil {
					return Failed, err
				}
				ctx, db, done, err := env.Connect(ctx)
				if err != nil {
					return 0, err
				}
				defer done()
				records, err := db.ReadState(ctx)
				if err != nil {
					return Failed, err
				}
				st := plan.State{Records: records}
				if st.Repeatables, err = db.ReadRepeatables(ctx); err != nil {
					return Failed, err
				}
				r := status.Compute(set, st, env.planOptions())
				if bad != nil {
					inDir(r, env.Dir())
					unreadable(r, badUps)
					r.FileProblems = bad
				}
				if env.JSON {
					env.writeJSON(r)
				} else {
					fmt.Fprint(sayWriter{env, env.Stdout}, r)
					for _, h := range hints(env.cfg.Name, r.Err) {
						fmt.Fprintf(env.Stdout, "hint: %s\n", env.say(h))
					}
				}
				switch {
				case len(bad) > 0:
					// Printed above, with the state: not again as an error.
					return Failed, nil
				case r.Err != nil && env.detailed:
					return Refused, nil
				case r.Count(status.Pending)+r.Count(status.OutOfOrder)+r.CountRepeatables(status.RepeatablePending)+r.CountRepeatables(status.RepeatableChanged) > 0:
					return Changed, nil
				}
				return NothingToDo, nil
			}
		},
	})
}

// readableSet returns the set that status compares the database with:
// the program's, or the files of -dir. When some files of -dir have
// problems, it returns the set of the other files, and the problems; a
// bad up file takes its down file out too. When even those do not make a
// set (the directory cannot be read, the problems are not about single
// files), it returns the problems as the error. badUps maps the versions
// whose up file is bad to that file.
func (e *Env) readableSet() (_ *source.Set, _ source.ErrorList, badUps map[int64]string, _ error) {
	set, err := e.Set()
	var list source.ErrorList
	if err == nil || e.cfg.Set != nil || !errors.As(err, &list) {
		return set, nil, nil, err
	}
	dir := e.Dir()
	out := map[string]bool{} // names of the files left out
	badUps = map[int64]string{}
	for _, pe := range list {
		name := filepath.Base(pe.Pos.Path)
		if filepath.Join(dir, name) != filepath.Clean(pe.Pos.Path) {
			return nil, nil, nil, err // not about a file of dir
		}
		out[name] = true
		if f, ferr := source.ParseFileName(name); ferr == nil && f.Direction == source.Up {
			badUps[f.Version] = pe.Pos.Path
		}
	}
	entries, rerr := os.ReadDir(dir)
	if rerr != nil {
		return nil, nil, nil, err
	}
	for _, de := range entries {
		if f, ferr := source.ParseFileName(de.Name()); ferr == nil && badUps[f.Version] != "" {
			out[de.Name()] = true
		}
	}
	rest, rerr := source.FromFS(without{os.DirFS(dir), out}, ".")
	if rerr != nil {
		return nil, nil, nil, err
	}
	return rest, list, badUps, nil
}

// unreadable shows, in r, each version of badUps as a bad file (its
// problems are among r.FileProblems), not as missing.
func unreadable(r *status.Report, badUps map[int64]string) {
	missing := func(pe *plan.Error) bool { return badUps[pe.Version] != "" && errors.Is(pe, plan.ErrUnknownVersion) }
	shown := map[int64]bool{}
	for i := range r.Entries {
		e := &r.Entries[i]
		if path := badUps[e.Version]; path != "" {
			e.Path, e.State = path, status.BadFile
			e.Problems = slices.DeleteFunc(e.Problems, missing)
			shown[e.Version] = true
		}
	}
	for v, path := range badUps {
		r.Latest = max(r.Latest, v)
		if !shown[v] { // not applied: a row of its own
			f, _ := source.ParseFileName(filepath.Base(path))
			r.Entries = append(r.Entries, status.Entry{Version: v, Name: f.Name, State: status.BadFile, Path: path})
		}
	}
	slices.SortFunc(r.Entries, func(a, b status.Entry) int { return cmp.Compare(a.Version, b.Version) })
	var list plan.ErrorList
	if errors.As(r.Err, &list) {
		list = slices.DeleteFunc(list, missing)
		r.Err = nil
		if len(list) > 0 {
			r.Err = list
		}
	}
}

// inDir shows the paths of r, which was computed from a set read from
// dir's file system, as paths in dir, as the whole set shows them.
func inDir(r *status.Report, dir string) {
	for i := range r.Entries {
		if e := &r.Entries[i]; e.Path != "" {
			e.Path = filepath.Join(dir, e.Path)
		}
	}
	var list plan.ErrorList
	if errors.As(r.Err, &list) {
		for _, pe := range list {
			if pe.Path != "" {
				pe.Path = filepath.Join(dir, pe.Path)
			}
		}
	}
}

// without is a directory's file system without some of its files.
type without struct {
	fsys fs.FS
	out  map[string]bool
}

func (w without) Open(name string) (fs.File, error) {
	if w.out[path.Base(name)] {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return w.fsys.Open(name)
}

func (w without) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := fs.ReadDir(w.fsys, name)
	return slices.DeleteFunc(entries, func(de fs.DirEntry) bool { return w.out[de.Name()] }), err
}
