package source

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Set is a validated collection of migrations, in ascending version order.
// A Set is immutable and safe for concurrent use.
type Set struct {
	migrations  []*Migration
	repeatables []*Repeatable // by name

	digestOnce sync.Once
	digests    []Digest // digests[i] is the digest through migrations[i]

	repDigestOnce sync.Once
	repDigest     Digest // the digest of the repeatable scripts
}

// Migrations returns the migrations in ascending version order. The slice
// is the caller's; the migrations it points to must not be modified.
func (s *Set) Migrations() []*Migration { return slices.Clone(s.migrations) }

// Len returns the number of migrations.
func (s *Set) Len() int { return len(s.migrations) }

// Latest returns the highest version in the set.
func (s *Set) Latest() int64 {
	if len(s.migrations) == 0 {
		return 0
	}
	return s.migrations[len(s.migrations)-1].Version
}

// Lookup returns the migration with version v.
func (s *Set) Lookup(v int64) (*Migration, bool) {
	i, ok := s.index(v)
	if !ok {
		return nil, false
	}
	return s.migrations[i], true
}

// index returns the position of version v in the set.
func (s *Set) index(v int64) (int, bool) {
	return slices.BinarySearchFunc(s.migrations, v, func(m *Migration, v int64) int { return cmp.Compare(m.Version, v) })
}

// FromDir reads the migrations in a directory on disk. Script paths are
// the directory joined with the file name.
//
// Every file is read through an [os.Root] opened on dir, so no read
// leaves the directory: a migration file that is a symbolic link
// resolving outside it (an absolute target, or one whose ".." climbs above
// dir, even to come back) is refused with an [*Error] of kind
// [ErrOutside] naming the file and the link's target, and nothing of it is
// read. Links to files inside the directory (or its sub-directories) are
// followed. A hard link cannot be told from the file itself: review who
// can write to the directory.
func FromDir(dir string) (*Set, error) {
	// shown ends with exactly one separator byte; load relies on it.
	shown := filepath.Clean(dir) + string(filepath.Separator)
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, ErrorList{{Pos: Position{Path: shown[:len(shown)-1]}, Err: ErrRead, Detail: "the migration directory", Cause: fsCause(err)}}
	}
	defer root.Close()
	// The names come from the directory opened by its path: a directory
	// opened in an os.Root stats every entry as it is listed (one system
	// call a file, a quarter of the load's time on a large set), which
	// the type that listing gives already makes needless. It must be the
	// root's directory (not one renamed or swapped in meanwhile), and
	// the reads go through the root, so they cannot leave the directory
	// whatever the names say.
	return load(root.FS(), ".", shown, func() ([]fs.DirEntry, error) { return listRoot(root, dir) })
}

// errDirChanged: the directory's path named another directory when it was
// listed than when it was opened.
var errDirChanged = errors.New("the directory was replaced while it was read")

// listRoot lists directory dir, sorted by name, after checking that it is
// the directory root was opened on.
func listRoot(root *os.Root, dir string) ([]fs.DirEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	listed, err := f.Stat()
	if err != nil {
		return nil, err
	}
	opened, err := root.Stat(".")
	if err != nil {
		return nil, err
	}
	if !os.SameFile(listed, opened) {
		return nil, errDirChanged
	}
	entries, err := f.ReadDir(-1)
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, err
}

// FromFS reads the migrations in directory dir of fsys ("." for its root).
// It works with any [fs.FS] that allows concurrent reads (embed.FS,
// os.DirFS and fstest.MapFS do; large sets are read by several goroutines):
//
//	//go:embed migrations/*.sql
//	var migrations embed.FS
//
//	set, err := source.FromFS(migrations, "migrations")
//
// Script paths are dir joined with the file name. The error, if any, is an
// [ErrorList] of every problem found (see the package doc).
//
// FromFS trusts fsys to give the files of dir: it reads whatever fsys
// returns for each name. When fsys can read symbolic links
// ([fs.ReadLinkFS]: os.DirFS, an os.Root's FS, fstest.MapFS), a
// migration file that is a link resolving outside dir is refused
// ([ErrOutside]), as [FromDir] does; this is decided from the links' names
// before the read, so for a directory on disk that someone else may change
// meanwhile, use FromDir, whose reads cannot leave the directory. embed.FS
// has no links: the files were copied in when the binary was built.
func FromFS(fsys fs.FS, dir string) (*Set, error) {
	return load(fsys, dir, "", nil)
}

// file is one migration file.
type file struct {
	fileName
	entry  string // the name in the directory
	rname  string // a repeatable script's name, or "" for a migration
	path   string
	script *Script   // nil when the script itself has problems
	errs   ErrorList // the script's problems
}

// load reads directory dir of fsys. Script paths are shown as the path in
// fsys, or, when shown is not empty, as shown followed by the file name.
// list, when not nil, lists the directory instead of fs.ReadDir.
func load(fsys fs.FS, dir, shown string, list func() ([]fs.DirEntry, error)) (*Set, error) {
	dir = path.Clean(dir)
	prefix := dir + "/"
	if dir == "." {
		prefix = ""
	}
	display, where := func(name string) string { return prefix + name }, dir
	if shown != "" {
		display, where = func(name string) string { return shown + name }, shown[:len(shown)-1]
	}
	if list == nil {
		list = func() ([]fs.DirEntry, error) { return fs.ReadDir(fsys, dir) }
	}
	entries, err := list()
	if err != nil {
		return nil, ErrorList{{Pos: Position{Path: where}, Err: ErrRead, Detail: "the migration directory", Cause: fsCause(err)}}
	}
	var errs ErrorList
	files := make([]file, 0, len(entries))
	for _, e := range entries {
		if e.IsDir() || !isSQLName(e.Name()) {
			continue
		}
		if isRepeatableName(e.Name()) {
			rname, perr := parseRepeatableName(e.Name())
			if perr != nil {
				perr.Pos.Path = display(e.Name())
				errs = append(errs, perr)
				continue
			}
			files = append(files, file{fileName: fileName{direction: Up}, entry: e.Name(), rname: rname})
			continue
		}
		f, perr := parseName(e.Name())
		if perr != nil {
			perr.Pos.Path = display(e.Name())
			errs = append(errs, perr)
			continue
		}
		if lfs, ok := fsys.(fs.ReadLinkFS); ok && e.Type()&fs.ModeSymlink != 0 {
			if target, out := linkOutside(lfs, dir, e.Name()); out {
				errs = append(errs, &Error{Pos: Position{Path: display(e.Name())}, Err: ErrOutside,
					Detail: fmt.Sprintf("a symbolic link to %s, which resolves outside %s; copy the file into the directory, or link to a file inside it", target, where)})
				continue
			}
		}
		files = append(files, file{fileName: f, entry: e.Name()})
	}

	parallel(len(files), func(i int) {
		f := &files[i]
		inFS := prefix + f.entry
		f.path = inFS
		if shown != "" {
			f.path = shown + f.entry
		}
		data, err := fs.ReadFile(fsys, inFS)
		if err != nil {
			f.errs = ErrorList{{Pos: Position{Path: f.path}, Err: ErrRead, Cause: fsCause(err)}}
			return
		}
		f.script, f.errs = parseScript(f.path, data, f.direction)
		if f.rname != "" && f.script != nil {
			// A repeatable script runs again whole whenever it changes:
			// no batches, which a run resumes.
			for _, b := range f.script.Batches {
				f.errs = append(f.errs, &Error{Pos: b.Pos, Err: ErrDirective,
					Detail: "waymark:batch: a repeatable script runs again whole whenever it changes; put a batched backfill in a versioned migration"})
			}
		}
	})

	// Group by version: ups before downs, then by name. A file with a bad
	// script stays in, so that its problems do not hide a duplicate.
	sorted := make([]*file, 0, len(files))
	set := &Set{migrations: make([]*Migration, 0, len(files)/2+1)}
	for i := range files {
		errs = append(errs, files[i].errs...)
		switch {
		case files[i].rname == "":
			sorted = append(sorted, &files[i])
		case files[i].script != nil:
			set.repeatables = append(set.repeatables, &Repeatable{Name: files[i].rname, Script: files[i].script})
		}
	}
	slices.SortFunc(set.repeatables, func(a, b *Repeatable) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(sorted, func(a, b *file) int {
		if a.version != b.version {
			return cmp.Compare(a.version, b.version)
		}
		return cmp.Or(cmp.Compare(a.direction, b.direction), strings.Compare(a.stem, b.stem))
	})
	for i := 0; i < len(sorted); {
		j := i + 1
		for j < len(sorted) && sorted[j].version == sorted[i].version {
			j++
		}
		if m, merrs := pair(sorted[i:j]); merrs != nil {
			errs = append(errs, merrs...)
		} else if m != nil {
			set.migrations = append(set.migrations, m)
		}
		i = j
	}

	if len(errs) > 0 {
		return nil, errs.Err()
	}
	if len(set.migrations) == 0 && len(set.repeatables) == 0 {
		return nil, ErrorList{{Pos: Position{Path: where}, Err: ErrNoMigrations, Detail: "want files named like v001_create_users.up.sql or r_active_users.sql"}}
	}
	return set, nil
}

// fsCause returns what the file system said, without the path that a
// *fs.PathError repeats (the Error's position names it already).
func fsCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// parallel calls fn(0) ... fn(n-1), spread over the available CPUs when n
// is large enough to be worth it.
func parallel(n int, fn func(int)) {
	workers := min(runtime.GOMAXPROCS(0), n/64)
	if workers < 2 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// pair turns the files of one version into a migration. The files are
// sorted ups first. It returns nil and no errors when a file's own
// problems were already reported.
func pair(files []*file) (*Migration, ErrorList) {
	var errs ErrorList
	var up, down *file
	for _, f := range files {
		if f.direction == Up && up == nil {
			up = f
		}
	}
	for _, f := range files {
		// The down file named like the up file is the pair.
		if f.direction == Down && up != nil && f.stem == up.stem {
			down = f
		}
	}
	for _, f := range files {
		if f == up || f == down {
			continue
		}
		if f.direction == Down && down == nil {
			down = f
			continue
		}
		other := up
		if f.direction == Down {
			other = down
		}
		errs = append(errs, &Error{Pos: Position{Path: f.path}, Err: ErrDuplicateVersion,
			Detail: fmt.Sprintf("version %d is also defined by %s", f.version, other.path)})
	}
	switch {
	case up == nil:
		errs = append(errs, &Error{Pos: Position{Path: down.path}, Err: ErrMissingUp,
			Detail: fmt.Sprintf("add %s.up.sql", down.stem)})
	case down != nil && down.stem != up.stem:
		errs = append(errs, &Error{Pos: Position{Path: down.path}, Err: ErrNameMismatch,
			Detail: fmt.Sprintf("the up script of version %d is %s", up.version, up.path)})
	}
	if errs != nil {
		return nil, errs
	}
	if up.script == nil || (down != nil && down.script == nil) {
		return nil, nil
	}
	m := &Migration{Version: up.version, Name: up.name, Up: up.script}
	if down != nil {
		m.Down = down.script
	}
	return m, nil
}
