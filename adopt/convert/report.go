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
// they were renumbered, every note, every file not converted, and the
// ignored files, counted by reason or, with verbose, one per line.
func (r *Result) Report(w io.Writer, verbose bool) {
	var converted, noTx, empty, irreversible int
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
			}
		}
	}
	fmt.Fprintf(w, "%s: %d of %d migrations converted, from %s\n", r.Tool, converted, len(r.Migrations), count(len(from), "file"))
	if r.Renumbered && len(r.Migrations) > 0 {
		fmt.Fprintf(w, "  renumbered 1 to %d in %s's order: its versions are not waymark's (each a signed 64-bit integer above 0, in ascending order); each file name keeps %s's version: %s\n",
			len(r.Migrations), r.Tool, r.Tool, r.Migrations[0].Stem)
	}
	fmt.Fprintf(w, "  %d no-transaction, %d empty on purpose, %d irreversible\n", noTx, empty, irreversible)
	for _, m := range r.Migrations {
		for _, n := range m.Notes {
			fmt.Fprintf(w, "  %s: %s\n", m.Stem, n)
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
		byReason := map[string]int{}
		for _, s := range r.Ignored {
			byReason[s.Reason]++
		}
		reasons := slices.SortedFunc(maps.Keys(byReason), func(a, b string) int {
			return cmp.Or(cmp.Compare(byReason[b], byReason[a]), strings.Compare(a, b))
		})
		for _, reason := range reasons {
			fmt.Fprintf(w, "  %d: %s\n", byReason[reason], reason)
		}
	}
}

// count returns "1 file", "2 files".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
