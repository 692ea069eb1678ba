package hazard

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/source"
)

// DefaultServerVersion is the server version the checker judges for when
// [Options].ServerVersion is 0: PostgreSQL 14, the oldest waymark supports.
// Its verdicts hold on every later version; a later target can only make
// some of them milder.
const DefaultServerVersion = 140000

// Options configure [Check] and [CheckPlan]. A nil *Options means the
// defaults.
type Options struct {
	// ServerVersion is the server_version_num of the PostgreSQL the
	// scripts will run on, such as 160004 or 180000. Where the server's
	// behaviour changed, so does the verdict: from 180000 a VIRTUAL
	// generated column needs no rewrite, NOT NULL can be added NOT VALID,
	// and a foreign key on a partitioned table can be NOT VALID. Below
	// 140000 is an error ([ErrServerVersion]). Default 0:
	// [DefaultServerVersion].
	ServerVersion int
	// LockTimeout is the lock_timeout the runner sets for every step. When
	// it is not 0, no statement is reported for a missing lock timeout
	// unless its script turns the timeout off. Default 0: only a script's
	// own SET [LOCAL] lock_timeout (or set_config) counts.
	LockTimeout time.Duration
	// Set is the migration set a plan was made from. [CheckPlan] reads the
	// up scripts of the versions the plan's state has applied, so that it
	// knows the tables, columns (and their types) and constraints that the
	// plan's steps find. Default nil: it knows only what the steps
	// themselves create, and says so when that decides a verdict.
	Set *source.Set
	// Prerequisites is the script that makes what the set expects to find
	// and does not make itself (an extension, a table another tool owns),
	// run before the first version (waymark check -prerequisites, and
	// waymarktest's Prerequisites). The checker reads it first, so that
	// the relations it makes exist before every script, like those of the
	// versions a plan's state has applied. Default nil: none.
	Prerequisites *source.Script
}

// Report is what a check found, script by script in the order they run.
type Report struct {
	// ServerVersion is the version the verdicts are for.
	ServerVersion int `json:"server_version"`
	// LockTimeout is Options.LockTimeout.
	LockTimeout time.Duration `json:"-"`
	Scripts     []Script      `json:"scripts"`
}

// Script is the check of one script.
type Script struct {
	Version       int64            `json:"version"`
	Name          string           `json:"name,omitempty"`
	Path          string           `json:"path"`
	Direction     source.Direction `json:"direction"`
	NoTransaction bool             `json:"no_transaction,omitempty"`
	Statements    []Statement      `json:"statements"`
	// UnusedAllows lists the waymark:allow directives for static rules
	// that accept no finding: stale ones, or ones for a server version
	// other than the one checked for.
	UnusedAllows []source.Allow `json:"-"`
}

// Statement is the check of one statement.
type Statement struct {
	// Pos is where the statement starts; Pos.Statement is its number.
	Pos source.Position `json:"-"`
	SQL string          `json:"sql"`
	// Kind is the statement's first key words, such as "ALTER TABLE".
	Kind string `json:"kind"`
	// Known is false when the checker does not understand the statement
	// (a DO block, a function call, a form it does not model): Effects
	// may then miss what it does.
	Known bool `json:"known"`
	// Effects is what the statement is expected to do to relations that
	// existed before its script: its locks of ShareUpdateExclusive or
	// stronger (the strongest per relation), rewrites and full scans.
	// Locks on indexes stand for locks on their tables.
	Effects []Effect `json:"effects,omitempty"`
	// Findings are the hazards it has, accepted ones included.
	Findings []*Finding `json:"findings,omitempty"`
	// Allows are the waymark:allow directives that come before it.
	Allows []source.Allow `json:"-"`
}

// Check checks every up script of set, in version order, as if each ran
// on the database the scripts before it built, then its repeatable scripts
// (reported with version 0), in name order. Down scripts are not
// checked (check a down plan with [CheckPlan]), but the waymark:allow
// directives of every script must name known rules: an unknown one is an
// error, an [ErrorList] of [*Error] values wrapping [ErrUnknownRule].
func Check(set *source.Set, opts *Options) (*Report, error) {
	k, err := newChecker(opts)
	if err != nil {
		return nil, err
	}
	if k.repeatables == nil {
		k.repeatables = repeatableObjects(set)
	}
	var errs ErrorList
	r := &Report{ServerVersion: k.version, LockTimeout: k.lockTimeout}
	if opts != nil && opts.Prerequisites != nil {
		k.replay(opts.Prerequisites)
	}
	for _, m := range set.Migrations() {
		errs = append(errs, checkAllows(m.Up)...)
		if m.Down != nil {
			errs = append(errs, checkAllows(m.Down)...)
		}
		r.Scripts = append(r.Scripts, k.check(m.Version, m.Name, m.Up))
	}
	for _, rep := range set.Repeatables() {
		errs = append(errs, checkAllows(rep.Script)...)
		r.Scripts = append(r.Scripts, k.check(0, rep.Name, rep.Script))
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

// CheckPlan checks the steps of p in order. With [Options].Set it first
// reads the up scripts of the versions p's state has applied; without it,
// relations that no step creates are taken to exist and be unknown.
func CheckPlan(p *plan.Plan, opts *Options) (*Report, error) {
	k, err := newChecker(opts)
	if err != nil {
		return nil, err
	}
	if opts != nil && opts.Prerequisites != nil {
		k.replay(opts.Prerequisites)
	}
	if opts != nil && opts.Set != nil {
		for _, rec := range p.State.Records {
			if m, ok := opts.Set.Lookup(rec.Version); ok {
				k.replay(m.Up)
			}
		}
	}
	var errs ErrorList
	r := &Report{ServerVersion: k.version, LockTimeout: k.lockTimeout}
	for _, step := range p.Steps {
		sc, err := source.ParseScript(step.Path, []byte(step.SQL), step.Direction)
		if err != nil {
			return nil, fmt.Errorf("hazard: version %d: %w", step.Version, err)
		}
		errs = append(errs, checkAllows(sc)...)
		r.Scripts = append(r.Scripts, k.check(step.Version, step.Name, sc))
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

// newChecker validates opts.
func newChecker(opts *Options) (*checker, error) {
	if opts == nil {
		opts = &Options{}
	}
	v := opts.ServerVersion
	if v == 0 {
		v = DefaultServerVersion
	}
	if v < 140000 {
		return nil, ErrorList{{Err: ErrServerVersion,
			Detail: fmt.Sprintf("ServerVersion %d: waymark supports PostgreSQL 14 (140000) and later", opts.ServerVersion)}}
	}
	k := &checker{version: v, lockTimeout: opts.LockTimeout, runnerLimit: opts.LockTimeout > 0, model: newSchema()}
	if opts.Set != nil {
		k.repeatables = repeatableObjects(opts.Set)
	}
	return k, nil
}

// checkAllows returns an error for each allow directive of sc that names
// no rule.
func checkAllows(sc *source.Script) []*Error {
	var errs []*Error
	for _, a := range sc.Allows {
		if _, ok := LookupRule(a.Rule); !ok {
			errs = append(errs, &Error{Pos: a.Pos, Err: ErrUnknownRule,
				Detail: fmt.Sprintf("waymark:allow %s: no such rule (known: %s)", a.Rule, ruleIDs())})
		}
	}
	return errs
}

// replay reads a script to learn the schema it builds, keeping no
// findings.
func (k *checker) replay(sc *source.Script) {
	k.startScript(sc)
	for _, s := range sc.Statements {
		k.statement(s)
	}
}

// check checks one script and applies its allow directives.
func (k *checker) check(version int64, name string, sc *source.Script) Script {
	k.startScript(sc)
	out := Script{Version: version, Name: name, Path: sc.Path, Direction: sc.Direction, NoTransaction: sc.NoTransaction}
	used := make([]bool, len(sc.Allows))
	for _, s := range sc.Statements {
		st := k.statement(s)
		if version != 0 && sc.Direction == source.Up {
			k.st = &st
			k.usesRepeatable()
			FindingList(st.Findings).Sort()
		}
		for i, a := range sc.Allows {
			if a.Pos.Statement != s.Pos.Statement {
				continue
			}
			st.Allows = append(st.Allows, a)
			for _, f := range st.Findings {
				if f.Rule == a.Rule && f.Allowed == nil {
					f.Allowed = &sc.Allows[i]
					used[i] = true
				}
			}
		}
		out.Statements = append(out.Statements, st)
	}
	for i, a := range sc.Allows {
		if r, ok := LookupRule(a.Rule); ok && !r.Measured && !used[i] {
			out.UnusedAllows = append(out.UnusedAllows, a)
		}
	}
	return out
}

// Findings returns every finding, accepted ones included, in the order of
// the scripts and their statements.
func (r *Report) Findings() FindingList {
	var out FindingList
	for _, sc := range r.Scripts {
		for _, st := range sc.Statements {
			out = append(out, st.Findings...)
		}
	}
	return out
}

// Unaccepted returns the findings that no waymark:allow directive accepts.
func (r *Report) Unaccepted() FindingList {
	return slices.DeleteFunc(r.Findings(), (*Finding).Accepted)
}

// Err returns the unaccepted findings as a [FindingList], or nil when
// there are none: what fails a CI job.
func (r *Report) Err() error { return r.Unaccepted().Err() }

// String prints the findings like a compiler's messages: one per
// finding, "path:line:col: rule (severity): reason", with the safer
// pattern on the next line, then the allow directives that accept
// nothing, then a summary line.
func (r *Report) String() string {
	var b strings.Builder
	all := r.Findings()
	for _, f := range all {
		fmt.Fprintf(&b, "%s: %s (%s): %s\n", f.Pos, f.Rule, f.Severity, f.Reason)
		if f.Allowed != nil {
			fmt.Fprintf(&b, "\taccepted: %s\n", f.Allowed.Reason)
		} else {
			fmt.Fprintf(&b, "\tsafer: %s\n", f.Safer)
		}
	}
	scripts := 0
	for _, sc := range r.Scripts {
		scripts++
		for _, a := range sc.UnusedAllows {
			fmt.Fprintf(&b, "%s: waymark:allow %s accepts no finding of the next statement\n", a.Pos, a.Rule)
		}
	}
	accepted := len(all) - len(r.Unaccepted())
	fmt.Fprintf(&b, "%s in %s for %s", plural(len(all), "finding"), plural(scripts, "script"), versionName(r.ServerVersion))
	if accepted > 0 {
		fmt.Fprintf(&b, ", %d accepted", accepted)
	}
	b.WriteString("\n")
	return b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
