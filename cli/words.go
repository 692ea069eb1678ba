package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"

	"github.com/waymarkdb/waymark/plan"
)

// The library's errors name its Go API (plan.DownTo, Options.IgnoreDrift,
// execute.Resolve), which is what a program calling it can change. The
// command's reader types flags and commands instead: everything the
// command prints about an error passes through [Env.say], which rewrites
// those names into the flag or command that does the same.

// wording is one rewrite: re's matches become with, in which $1... are
// re's groups and NAME is the program's name.
type wording struct {
	re   *regexp.Regexp
	with string
}

// wordings are applied in order; the longer phrases come first.
var wordings = []wording{
	// execute.StepError of a no-transaction step.
	{regexp.MustCompile(`version (\d+) is left dirty: ([^;\n]*?), then call execute\.Resolve`),
		`version $1 is left dirty: $2, then record what it holds with 'NAME resolve $1 applied' or 'NAME resolve $1 not-applied'`},
	// plan.ErrDirty.
	{regexp.MustCompile(`version (\d+)([^\n]*?)record the outcome with execute\.Resolve`),
		`version $1${2}record the outcome with 'NAME resolve $1 applied' or 'NAME resolve $1 not-applied'`},
	{regexp.MustCompile(`(?:call |with )?execute\.Resolve`), `'NAME resolve'`},
	// plan.ErrDirection.
	{regexp.MustCompile(`plan\.DownTo\((\d+)\)`), `-down-to $1`},
	{regexp.MustCompile(`plan\.DownTo only goes down; go up with plan\.To\((\d+)\)`), `-down-to only goes down; go up with -to $1`},
	{regexp.MustCompile(`plan\.To\((\d+)\)`), `-to $1`},
	{regexp.MustCompile(`plan\.DownTo`), `-down-to`},
	// plan.ErrOutOfOrder, plan.ErrDrift, plan.ErrUnknownVersion.
	{regexp.MustCompile(`(?:plan\.)?Options\.AllowOutOfOrder`), `-allow-out-of-order`},
	{regexp.MustCompile(`(?:plan\.)?Options\.IgnoreDrift`), `-ignore-drift`},
	{regexp.MustCompile(`(?:plan\.)?Options\.AllowNewerDatabase`), `-allow-newer-database`},
	// execute: the step options.
	{regexp.MustCompile(`(?:execute\.)?Options\.LockTimeout`), `-lock-timeout`},
	{regexp.MustCompile(`(?:execute\.)?Options\.SingleTransaction`), `-single-transaction`},
	// adopt.ErrNoTable: the other tool's table.
	{regexp.MustCompile(`\(Options\.Table and Schema\)`), `(-from-table and -from-schema)`},
	// pgxbackend.OptionError and the search_path.
	{regexp.MustCompile(`set Options\.Schema`), `pass -schema`},
	{regexp.MustCompile(`(?:pgxbackend\.)?Options\.Schema`), `-schema`},
	// fleet -schemas sets the search_path to each target's schema.
	{regexp.MustCompile(`(?:pgxbackend\.)?Options\.SearchPath`), `the target's schema`},
	// the lease's expiry: the command has no lease option.
	{regexp.MustCompile(`(?:pgxbackend\.)?Options\.LeaseTTL`), `the lease's time to live`},
	{regexp.MustCompile(`(?:pgxbackend\.)?Options\.Table`), `-table`},
	{regexp.MustCompile(`(?:pgxbackend\.)?Options\.AppKey`), `-app-key`},
	// pgxbackend: the lock lost behind a transaction-mode pooler. The
	// command has no lease lock: the way out is a direct connection.
	{regexp.MustCompile(`use pgxbackend\.Options\{Lock: pgxbackend\.LockLease\}, or connect waymark to PostgreSQL directly`),
		`connect waymark to PostgreSQL directly, or through a session-mode pooler`},
	// adopt/convert: the import report.
	{regexp.MustCompile(`(?:convert\.)?Options\.Unwrap`), `-unwrap`},
	{regexp.MustCompile(`\(verbose lists each\)`), `(-v lists each)`},
	// fleet.Options.
	{regexp.MustCompile(`(?:fleet\.)?Options\.Parallel is (-?\d+)`), `-parallel $1:`},
}

// say rewrites the Go API that s names into the command's flags and
// commands (see wordings).
func (e *Env) say(s string) string {
	for _, w := range wordings {
		if !w.re.MatchString(s) {
			continue
		}
		s = w.re.ReplaceAllString(s, strings.ReplaceAll(w.with, "NAME", e.cfg.Name))
	}
	return s
}

// message is err as the command prints it: in its words, and with the
// versions that cannot go down named on one line.
func (e *Env) message(err error) string {
	var list plan.ErrorList
	if errors.As(err, &list) && list.Error() == err.Error() {
		return e.say(refusalText(list))
	}
	return e.say(err.Error())
}

// refusalText is a plan's refusal, one reason a line, with the versions
// that have no down script (plan.ErrIrreversible) on a single line.
func refusalText(list plan.ErrorList) string {
	var lines []string
	var irreversible []int64
	at := -1
	for _, pe := range list {
		if errors.Is(pe, plan.ErrIrreversible) {
			if at < 0 {
				at = len(lines)
				lines = append(lines, "")
			}
			irreversible = append(irreversible, pe.Version)
			continue
		}
		lines = append(lines, pe.Error())
	}
	if len(irreversible) > 1 {
		// The highest one stops the plan; every one of them would.
		lines[at] = fmt.Sprintf("plan: versions %s: %v: none has a down script, so the database cannot go below %d",
			versionList(irreversible), plan.ErrIrreversible, irreversible[len(irreversible)-1])
	} else if len(irreversible) == 1 {
		for _, pe := range list {
			if errors.Is(pe, plan.ErrIrreversible) {
				lines[at] = pe.Error()
			}
		}
	}
	return strings.Join(lines, "\n")
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
		switch {
		case j-i >= 2:
			parts = append(parts, fmt.Sprintf("%d-%d", vs[i], vs[j]))
		default:
			for k := i; k <= j; k++ {
				parts = append(parts, fmt.Sprint(vs[k]))
			}
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// sayWriter rewrites what is written to w through say; each Write is one
// log record or one report.
type sayWriter struct {
	e *Env
	w io.Writer
}

func (s sayWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(s.w, s.e.say(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// quietFailures drops the records of a step that failed: the command
// prints that error itself, once, with its hints.
type quietFailures struct{ slog.Handler }

func (q quietFailures) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError && r.Message == "waymark: step failed" {
		return nil
	}
	return q.Handler.Handle(ctx, r)
}

func (q quietFailures) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietFailures{q.Handler.WithAttrs(attrs)}
}

func (q quietFailures) WithGroup(name string) slog.Handler {
	return quietFailures{q.Handler.WithGroup(name)}
}
