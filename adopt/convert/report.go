package convert

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// String returns the report of the conversion (see [Result.Report]),
// without the list of ignored files.
func (r *Result) String() string {
	var b strings.Builder
	r.Report(&b, false)
	return b.String()
}

// Report writes what the conversion did: how many migrations, whether
// they were renumbered, every note (the versions that share one, such as
// "irreversible", on one line), the scripts wrapped in BEGIN; ... COMMIT;,
// every warning, every file not converted, and the ignored files: a few
// named by reason or, with verbose, every one on its own line.
func (r *Result) Report(w io.Writer, verbose bool) {
	var converted, noTx, empty, irreversible, wrapped, unwrapped int
	from := map[string]bool{}
	for _, m := range r.Migrations {
		if m.Up == nil {
			continue
		}
		converted++
		if m.Down == nil {
			irreversible++
		}
		if m.Up.NoTransaction || m.Down != nil && m.Down.NoTransaction {
			noTx++
		}
		if m.Up.Empty {
			empty++
		}
		for _, f := range []*File{m.Up, m.Down} {
			if f != nil {
				from[f.From] = true
				switch {
				case f.Unwrapped:
					unwrapped++
				case f.Wrapped:
					wrapped++
				}
			}
		}
	}
	fmt.Fprintf(w, "%s: %d of %d migrations converted, from %s\n", r.Tool, converted, len(r.Migrations), count(len(from), "file"))
	if r.Renumbered && len(r.Migrations) > 0 {
		fmt.Fprintf(w, "  renumbered 1 to %d in %s's order: its versions are not waymark's (each a signed 64-bit integer above 0, in ascending order); each file name keeps %s's version: %s\n",
			len(r.Migrations), r.Tool, r.Tool, r.Migrations[0].Stem)
	}
	fmt.Fprintf(w, "  %d no-transaction, %d empty on purpose, %d irreversible\n", noTx, empty, irreversible)
	r.notes(w)
	switch {
	case wrapped > 0:
		fmt.Fprintf(w, "  %s wrap their SQL in BEGIN; ... COMMIT; and run as no-transaction steps, which a failure part-way leaves dirty: Options.Unwrap makes them ordinary transactional steps\n", count(wrapped, "script"))
	case unwrapped > 0:
		fmt.Fprintf(w, "  %s wrapped in BEGIN; ... COMMIT; unwrapped: they run in waymark's transaction\n", count(unwrapped, "script"))
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(w, "warnings (%d):\n", len(r.Warnings))
		for _, wn := range r.Warnings {
			fmt.Fprintf(w, "  %s\n", wn)
		}
	}
	if len(r.Repeatables) > 0 {
		fmt.Fprintf(w, "  %s\n", count(len(r.Repeatables), "repeatable script"))
		for _, rep := range r.Repeatables {
			fmt.Fprintf(w, "  %s: from %s\n", rep.File.Name, rep.File.From)
			for _, n := range rep.Notes {
				fmt.Fprintf(w, "  %s: %s\n", rep.File.Name, n)
			}
		}
	}
	if len(r.Unconverted) > 0 {
		fmt.Fprintf(w, "not converted (%s):\n", count(len(r.Unconverted), "file"))
		for _, s := range r.Unconverted {
			fmt.Fprintf(w, "  %s: %s\n", s.Path, s.Reason)
		}
	}
	if len(r.Ignored) > 0 {
		fmt.Fprintf(w, "ignored (%s, which %s never runs on PostgreSQL):\n", count(len(r.Ignored), "file"), r.Tool)
		if verbose {
			for _, s := range r.Ignored {
				fmt.Fprintf(w, "  %s: %s\n", s.Path, s.Reason)
			}
			return
		}
		byReason := map[string][]string{}
		for _, s := range r.Ignored {
			byReason[s.Reason] = append(byReason[s.Reason], s.Path)
		}
		reasons := slices.SortedFunc(maps.Keys(byReason), func(a, b string) int {
			return cmp.Or(cmp.Compare(len(byReason[b]), len(byReason[a])), strings.Compare(a, b))
		})
		for _, reason := range reasons {
			paths := byReason[reason]
			if len(paths) == 1 {
				fmt.Fprintf(w, "  %s: %s\n", paths[0], reason)
				continue
			}
			shown := strings.Join(paths[:min(len(paths), shownIgnored)], ", ")
			if len(paths) > shownIgnored {
				shown += fmt.Sprintf(", and %d more (verbose lists each)", len(paths)-shownIgnored)
			}
			fmt.Fprintf(w, "  %d: %s: %s\n", len(paths), reason, shown)
		}
	}
}

// shownIgnored is how many ignored files of one reason the short report
// names.
const shownIgnored = 3

// groupNotes is how many versions must share a note for it to be written
// once, with their list.
const groupNotes = 4

// notes writes the migrations' notes, one a line, except that a note that
// many versions share (as "irreversible" can) is written once, with the
// list of versions.
func (r *Result) notes(w io.Writer) {
	shared := map[string][]int64{}
	for _, m := range r.Migrations {
		for _, n := range m.Notes {
			shared[n] = append(shared[n], m.Version)
		}
	}
	done := map[string]bool{}
	for _, m := range r.Migrations {
		for _, n := range m.Notes {
			vs := shared[n]
			switch {
			case len(vs) < groupNotes:
				fmt.Fprintf(w, "  %s: %s\n", m.Stem, n)
			case !done[n]:
				done[n] = true
				fmt.Fprintf(w, "  %d versions (%s): %s\n", len(vs), versionList(vs), n)
			}
		}
	}
}

// versionList writes versions as "1, 2, 3"; runs of three or more
// consecutive versions as "1-39".
func versionList(vs []int64) string {
	var parts []string
	for i := 0; i < len(vs); {
		j := i
		for j+1 < len(vs) && vs[j+1] == vs[j]+1 {
			j++
		}
		if j-i >= 2 {
			parts = append(parts, fmt.Sprintf("%d-%d", vs[i], vs[j]))
		} else {
			for k := i; k <= j; k++ {
				parts = append(parts, fmt.Sprint(vs[k]))
			}
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// count returns "1 file", "2 files".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
