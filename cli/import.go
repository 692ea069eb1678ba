package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/waymarkdb/waymark/adopt/convert"
)

func init() {
	register(&Command{
		Name:    "import",
		Args:    "golang-migrate|goose|tern|pop|flyway",
		Summary: "convert another tool's migration files into waymark's",
		Help: `Reads -from as the tool lays out its migrations and writes waymark's files to
-to (a new directory, or one without .sql files): the same order, the SQL
byte for byte, the same transaction mode (-- waymark:no-transaction where the
tool ran a script outside a transaction, -- waymark:empty where it had an
empty step). Versions that do not fit waymark's are renumbered, keeping the
tool's version in the file name. The report lists every file not converted
(Go migrations, templates, fizz, names the tool skips) and every file the
tool never runs on PostgreSQL (-v lists each one). Flyway's V<version>__
scripts become versions, its U<version>__ undo scripts their down scripts,
its R__ repeatable scripts r_<name>.sql; callbacks, B baseline scripts and
scripts with placeholders are not converted. When a file is not
converted, nothing is written (exit 3) unless -allow-unconverted.
It warns, naming file and line, about a statement that uses the tool's
own history table (waymark does not create it, so that statement fails on
a new database). A script that wraps its SQL in BEGIN; ... COMMIT; becomes
a no-transaction step, which a failure leaves dirty; -unwrap makes it an
ordinary transactional step, its BEGIN and COMMIT turned into comments.
Then record, in each database, what the tool applied: import-history.`,
		Setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) (Outcome, error) {
			env.AddFlags(fs, JSONFlag)
			from := fs.String("from", "", "the tool's migration directory (required)")
			to := fs.String("to", env.cfg.Dir, "the directory to write waymark's files to")
			multi := fs.Bool("multi-statement", false, "golang-migrate ran with x-multi-statement=true: files of several statements become no-transaction scripts")
			unwrap := fs.Bool("unwrap", false, "make a script that wraps its SQL in BEGIN; ... COMMIT; an ordinary transactional step (the two statements become comments) instead of a no-transaction step")
			allow := fs.Bool("allow-unconverted", false, "write the converted files even when some could not be converted")
			dry := fs.Bool("dry-run", false, "report what would be written; write nothing")
			verbose := fs.Bool("v", false, "list every ignored file")
			return func(ctx context.Context, args []string) (Outcome, error) {
				tool, err := toolArg(args, *from)
				if err != nil {
					return Usage, err
				}
				res, err := convert.ConvertDir(*from, tool, &convert.Options{MultiStatement: *multi, Unwrap: *unwrap})
				if err != nil {
					return Failed, err
				}
				refused := len(res.Unconverted) > 0 && !*allow
				written := !*dry && !refused
				if written {
					if err := res.Write(*to); err != nil {
						if errors.Is(err, convert.ErrExists) {
							return Refused, err
						}
						return Failed, err
					}
				}
				out := Done
				if refused {
					out = Refused
				}
				if env.JSON {
					env.writeJSON(importJSON(res, out, *from, *to, written))
				} else {
					res.Report(sayWriter{env, env.Stdout}, *verbose)
					switch {
					case refused:
						fmt.Fprintf(env.Stdout, "wrote nothing: %s not converted; write them by hand, or pass -allow-unconverted to write the rest\n", plural(len(res.Unconverted), "file"))
					case *dry:
						fmt.Fprintf(env.Stdout, "dry run: would write %s to %s\n", plural(len(res.Files()), "file"), *to)
					default:
						fmt.Fprintf(env.Stdout, "wrote %s to %s\n", plural(len(res.Files()), "file"), *to)
					}
					if written {
						fmt.Fprintf(env.Stdout, "next, in each database %s migrated: %s import-history %s -from %s -dir %s\n", tool, env.cfg.Name, tool, *from, *to)
					}
				}
				if refused {
					return Refused, nil
				}
				return Done, nil
			}
		},
	})
}

// toolArg reads the TOOL argument of import and import-history, with the
// -from flag they require.
func toolArg(args []string, from string) (convert.Tool, error) {
	if len(args) != 1 {
		return "", usagef("want one TOOL (golang-migrate, goose, tern, pop or flyway), got %q", args)
	}
	tool, err := convert.ParseTool(args[0])
	if err != nil {
		return "", usagef("TOOL %q: want golang-migrate, goose, tern, pop or flyway", args[0])
	}
	if from == "" {
		return "", usagef("-from: name the directory of %s's migration files", tool)
	}
	return tool, nil
}

// importJSON is import's -json document.
func importJSON(res *convert.Result, out Outcome, from, to string, written bool) any {
	type file struct {
		Name          string `json:"name"`
		From          string `json:"from"`
		NoTransaction bool   `json:"no_transaction,omitempty"`
		Empty         bool   `json:"empty,omitempty"`
		Wrapped       bool   `json:"wrapped,omitempty"`
		Unwrapped     bool   `json:"unwrapped,omitempty"`
	}
	type warning struct {
		Path    string `json:"path"`
		Line    int    `json:"line"`
		Column  int    `json:"column"`
		Version int64  `json:"version"`
		Message string `json:"message"`
	}
	type migration struct {
		Version       int64    `json:"version"`
		SourceVersion string   `json:"source_version"`
		Up            *file    `json:"up"`
		Down          *file    `json:"down"`
		Notes         []string `json:"notes,omitempty"`
	}
	asFile := func(f *convert.File) *file {
		if f == nil {
			return nil
		}
		return &file{f.Name, f.From, f.NoTransaction, f.Empty, f.Wrapped, f.Unwrapped}
	}
	doc := struct {
		jsonResult
		Tool        convert.Tool      `json:"tool"`
		From        string            `json:"from"`
		To          string            `json:"to"`
		Written     bool              `json:"written"`
		Renumbered  bool              `json:"renumbered"`
		Migrations  []migration       `json:"migrations"`
		Unconverted []convert.Skipped `json:"unconverted"`
		Ignored     []convert.Skipped `json:"ignored"`
		Warnings    []warning         `json:"warnings"`
	}{jsonResult: jsonResult{"import", out, out.Code(false)}, Tool: res.Tool, From: from, To: to, Written: written, Renumbered: res.Renumbered,
		Migrations: []migration{}, Unconverted: append([]convert.Skipped{}, res.Unconverted...), Ignored: append([]convert.Skipped{}, res.Ignored...), Warnings: []warning{}}
	for _, w := range res.Warnings {
		doc.Warnings = append(doc.Warnings, warning{w.Pos.Path, w.Pos.Line, w.Pos.Column, w.Version, w.Message})
	}
	for _, m := range res.Migrations {
		doc.Migrations = append(doc.Migrations, migration{m.Version, m.SourceVersion, asFile(m.Up), asFile(m.Down), m.Notes})
	}
	return doc
}
