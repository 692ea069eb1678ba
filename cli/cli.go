// Package cli is waymark's command line for operators and CI: status,
// plan, apply, resolve, new, check, drift, schema and fleet, and import,
// import-history and baseline to adopt waymark, built on the public packages. The waymark
// program (cmd/waymark) is a thin main around [Main]; a service mounts the
// same commands as a subcommand of its own binary, with its embedded
// migrations, so that the tool always carries exactly the binary's
// migrations:
//
//	//go:embed migrations/*.sql
//	var migrations embed.FS
//
//	func main() {
//		if len(os.Args) > 1 && os.Args[1] == "migrate" {
//			set, err := source.FromFS(migrations, "migrations")
//			...
//			os.Exit(cli.Main(ctx, os.Args[2:], &cli.Config{Name: "myservice migrate", Set: set}))
//		}
//		...
//	}
//
// # Commands
//
//	status                       every version: applied (when, how long, or imported), pending, dirty, drifted,
//	                             missing, out of order; with the problems of bad files beside it
//	plan [-o FILE] [-review]     the plan to a target, as a dry run, a review with SQL, or JSON saved to a file
//	apply [-plan FILE]           a saved plan (checked against the files), or up to a target
//	resolve VERSION applied|not-applied
//	                             record what a dirty version's database holds after a repair by hand
//	new NAME                     create the next vNNN_name.up.sql and .down.sql, numbered like the set
//	                             (and the directory, if it does not exist)
//	check [-scratch URL]         the plan's hazards on busy tables, static and (on a scratch database) measured,
//	                             by the rules of the -database server's version
//	drift [-scratch URL]         what the database has, lacks or has otherwise than its migrations make
//	schema [-to V] [-o FILE]     the schema the migrations make at a version, as stable text to commit
//	fleet status|plan|apply|drift
//	                             the same on many databases (-targets FILE) or schemas (-schemas PATTERN)
//	import TOOL -from DIR        convert golang-migrate, goose, tern or pop files into waymark's, saying
//	                             what did not convert cleanly (-unwrap: BEGIN; ... COMMIT; scripts)
//	import-history TOOL -from DIR
//	                             record what that tool applied as applied in waymark's history
//	baseline VERSION             record every version up to VERSION as applied, without running it
//
// The database comes from -database or the environment variable
// DATABASE_URL. Every command takes -json for scripts: one JSON document on
// standard output. When standard output is a terminal (and not -json),
// apply shows each step's progress.
//
// Messages name the command's flags and commands (-ignore-drift,
// 'waymark resolve 3 applied') where the library's errors name its Go API
// (plan.Options.IgnoreDrift, execute.Resolve), and an error is printed
// once, with its hints.
//
// # Exit codes
//
//	0  success: done, or nothing to do
//	1  failed: a step failed, or the database or a file could not be used
//	   (status still shows the database beside a bad file's problems);
//	   the output says what took effect
//	2  usage: a bad flag or argument (a -schemas pattern that is invalid
//	   or matches no schema); nothing was done
//	3  refused: waymark's checks refused before changing anything (a plan
//	   refused, a stale plan, a file changed since planning, a bad
//	   signature, a version that is not dirty); drift: the schema drifted
//	4  with -detailed-exitcode: there is or was something to do (status
//	   and plan: pending steps; apply: steps applied); 0 then means
//	   nothing to do
//
// # Adding a command
//
// A command is a [Command] value: its name, help text, and a Setup function
// that defines its own flags and returns the function that runs it. The
// built-in commands register themselves, one file each; a program adds its
// own through [Config].Commands.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// Config is what a program gives [Main]. A nil *Config means the defaults.
type Config struct {
	// Name is the program's name in usage lines and hints ("waymark",
	// "myservice migrate"). Default "waymark".
	Name string
	// Set is the migration set compiled into the program. When it is set,
	// commands use it and offer no -dir flag (except new, which writes
	// files). Default nil: commands read the directory given by -dir.
	Set *source.Set
	// Dir is the default of -dir: the directory of migration files that
	// commands read when Set is nil, and that new writes to. Default
	// "migrations".
	Dir string
	// Backend holds the defaults of the -schema, -table and -app-key flags.
	// Default nil: those of pgxbackend.Options.
	Backend *pgxbackend.Options
	// Plan holds the checks that status, plan and apply plan with.
	// Default nil: the defaults of plan.Options.
	Plan *plan.Options
	// Stdout and Stderr receive the output. Default os.Stdout, os.Stderr.
	Stdout, Stderr io.Writer
	// Getenv reads the environment (DATABASE_URL, WAYMARK_PLAN_KEY).
	// Default os.Getenv.
	Getenv func(string) string
	// Commands are added to the built-in ones; one with the name of a
	// built-in command replaces it.
	Commands []*Command
}

// Command is one subcommand.
type Command struct {
	// Name is the word that selects it: "status".
	Name string
	// Args describes its arguments after the flags in the usage line:
	// "VERSION applied|not-applied", or "".
	Args string
	// Summary is one line for the list of commands.
	Summary string
	// Help is the rest of its help text, printed before its flags.
	Help string
	// Setup defines the command's flags on fs (see [Env].AddFlags for the
	// shared ones) and returns the function that runs it once fs is
	// parsed, with the positional arguments. That function returns the
	// command's [Outcome] and an error; an error with a zero Outcome is
	// classified by [Classify].
	Setup func(fs *flag.FlagSet, env *Env) func(ctx context.Context, args []string) (Outcome, error)
}

// Outcome is how a command ended; it decides the exit code.
type Outcome int8

// The outcomes of a command.
const (
	// Done is success with nothing further to tell: exit code 0.
	Done Outcome = iota + 1
	// NothingToDo is success without a change, nor one pending: exit
	// code 0.
	NothingToDo
	// Changed is success with steps applied (apply) or pending (plan,
	// status): exit code 0, or 4 with -detailed-exitcode.
	Changed
	// Refused means waymark refused before changing anything: exit code 3.
	Refused
	// Failed means something went wrong; part of the work may have taken
	// effect: exit code 1.
	Failed
	// Usage means a bad flag or argument: exit code 2.
	Usage
)

// The exit codes; see the package doc.
const (
	ExitOK       = 0
	ExitFailed   = 1
	ExitUsage    = 2
	ExitRefused  = 3
	ExitChanges  = 4
	outcomeCount = Usage + 1
)

var outcomeNames = [outcomeCount]string{Done: "done", NothingToDo: "nothing-to-do", Changed: "changed", Refused: "refused", Failed: "failed", Usage: "usage"}

// String returns the outcome's name, as in -json output: "done",
// "nothing-to-do", "changed", "refused", "failed" or "usage".
func (o Outcome) String() string {
	if o > 0 && o < outcomeCount {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", int8(o))
}

// MarshalText encodes o as its String.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Code returns the exit code of o; detailed is -detailed-exitcode.
func (o Outcome) Code(detailed bool) int {
	switch o {
	case Changed:
		if detailed {
			return ExitChanges
		}
		return ExitOK
	case Refused:
		return ExitRefused
	case Failed:
		return ExitFailed
	case Usage:
		return ExitUsage
	}
	return ExitOK
}

// UsageError is a bad flag or argument. A command that returns one exits
// with [ExitUsage].
type UsageError struct {
	// Msg says what is wrong, naming the flag or argument.
	Msg string
}

// Error returns Msg.
func (e *UsageError) Error() string { return e.Msg }

// usagef returns a *UsageError.
func usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// registry holds the built-in commands, each registered by its own file.
var registry []*Command

func register(c *Command) { registry = append(registry, c) }

// Main runs the command named by args[0] with the rest of args, and
// returns the exit code (see the package doc). args does not include the
// program's name: pass os.Args[1:], or os.Args[2:] under a subcommand of
// your own.
func Main(ctx context.Context, args []string, cfg *Config) int {
	c := defaults(cfg)
	cmds := commands(c)
	if len(args) == 0 {
		usage(c, cmds, c.Stderr)
		return ExitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) == 0 {
			usage(c, cmds, c.Stdout)
			return ExitOK
		}
		name, rest = rest[0], []string{"-h"}
	}
	i := slices.IndexFunc(cmds, func(cmd *Command) bool { return cmd.Name == name })
	if i < 0 {
		fmt.Fprintf(c.Stderr, "%s: unknown command %q; run '%s help' for the list\n", c.Name, name, c.Name)
		return ExitUsage
	}
	cmd := cmds[i]
	env := &Env{cfg: c, command: cmd.Name, Stdout: c.Stdout, Stderr: c.Stderr}
	fs := flag.NewFlagSet(c.Name+" "+cmd.Name, flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	run := cmd.Setup(fs, env)
	fs.Usage = func() {} // -h prints the help below, a bad flag a hint
	positional, err := parse(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		commandUsage(c, cmd, fs, c.Stdout)
		return ExitOK
	}
	if err != nil {
		// The flag package has printed the error.
		fmt.Fprintf(c.Stderr, "run '%s help %s' for its flags\n", c.Name, cmd.Name)
		return env.finish(Usage, &UsageError{Msg: err.Error()}, false)
	}
	out, err := run(ctx, positional)
	return env.finish(out, err, true)
}

// defaults fills in a Config.
func defaults(cfg *Config) Config {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.Name == "" {
		c.Name = "waymark"
	}
	if c.Dir == "" {
		c.Dir = "migrations"
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	return c
}

// commands returns the built-in commands with c.Commands added, sorted by
// name.
func commands(c Config) []*Command {
	var out []*Command
	for _, cmd := range registry {
		if !slices.ContainsFunc(c.Commands, func(o *Command) bool { return o.Name == cmd.Name }) {
			out = append(out, cmd)
		}
	}
	out = append(out, c.Commands...)
	slices.SortFunc(out, func(a, b *Command) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// parse parses flags and positional arguments in any order: flags may
// follow the arguments, up to a "--".
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

func usage(c Config, cmds []*Command, w io.Writer) {
	fmt.Fprintf(w, "Usage: %s COMMAND [flags] [arguments]\n\nCommands:\n", c.Name)
	width := 8
	for _, cmd := range cmds {
		width = max(width, len(cmd.Name))
	}
	for _, cmd := range cmds {
		fmt.Fprintf(w, "  %-*s %s\n", width, cmd.Name, cmd.Summary)
	}
	fmt.Fprintf(w, "\nRun '%s help COMMAND' for a command's flags.\n", c.Name)
	fmt.Fprintf(w, "Exit codes: 0 done or nothing to do, 1 failed, 2 usage, 3 refused (nothing changed) or drift,\n4 with -detailed-exitcode: steps pending or applied.\n")
}

func commandUsage(c Config, cmd *Command, fs *flag.FlagSet, w io.Writer) {
	line := c.Name + " " + cmd.Name + " [flags]"
	if cmd.Args != "" {
		line += " " + cmd.Args
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", line, cmd.Summary)
	if cmd.Help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(cmd.Help, "\n"))
	}
	fmt.Fprintf(w, "\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(c.Stderr)
}

// Classify returns the outcome of a command that failed with err: Usage for
// a [*UsageError], Refused for waymark's refusals (a plan refused, a stale
// or bad plan, a changed file, a bad signature, a resolve of a version that
// is not dirty), Failed for anything else.
func Classify(err error) Outcome {
	var ue *UsageError
	switch {
	case err == nil:
		return Done
	case errors.As(err, &ue):
		return Usage
	case isRefusal(err):
		return Refused
	}
	return Failed
}

// jsonError is the document -json prints for a command that failed before
// printing its own.
type jsonError struct {
	jsonResult
	Error string `json:"error"`
}

// finish reports err, if any, and returns the exit code.
func (e *Env) finish(out Outcome, err error, report bool) int {
	if err != nil && (out == 0 || out == Done || out == NothingToDo || out == Changed) {
		out = Classify(err)
	}
	if out == 0 {
		out = Done
	}
	code := out.Code(e.detailed)
	if err == nil {
		return code
	}
	if report {
		// "waymark plan: version 3 ...", not "waymark plan: plan: version 3 ...".
		msg := strings.ReplaceAll("\n"+e.message(err), "\n"+e.command+": ", "\n")[1:]
		fmt.Fprintf(e.Stderr, "%s %s: %s\n", e.cfg.Name, e.command, msg)
		for _, h := range hints(e.cfg.Name, err) {
			fmt.Fprintf(e.Stderr, "hint: %s\n", e.say(h))
		}
	}
	if e.JSON && !e.wrote {
		e.writeJSON(jsonError{jsonResult{e.command, out, code}, e.message(err)})
	}
	return code
}

// writeJSON prints v as one JSON document on standard output, its
// messages in the command's words.
func (e *Env) writeJSON(v any) {
	enc := json.NewEncoder(sayWriter{e, e.Stdout})
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(e.Stderr, "%s %s: encode JSON: %v\n", e.cfg.Name, e.command, err)
	}
	e.wrote = true
}
