package drift

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/fleet"
	"github.com/waymarkdb/waymark/schema"
	"github.com/waymarkdb/waymark/source"
)

// TargetReport is the drift check of one target of a fleet.
type TargetReport struct {
	// Target is the target's name.
	Target string `json:"target"`
	// Report is the check's, when it could be made.
	Report *Report `json:"report,omitempty"`
	// Err says why the check could not be made.
	Err error `json:"-"`
}

// FleetReport is the drift check of many targets.
type FleetReport struct {
	// Targets are in the order given.
	Targets []TargetReport
	// Builds is how many expected schemas were built: one per distinct
	// (set, version, history table, role) among the targets.
	Builds int
	// Duration is how long the whole check took.
	Duration time.Duration
}

// Count returns how many targets drifted, had none, and could not be
// checked.
func (r *FleetReport) Count() (drifted, clean, failed int) {
	for _, t := range r.Targets {
		switch {
		case t.Err != nil:
			failed++
		case t.Report.Drifted():
			drifted++
		default:
			clean++
		}
	}
	return drifted, clean, failed
}

// String returns a line per target, then each drifted target's
// differences, indented.
func (r *FleetReport) String() string {
	var b strings.Builder
	drifted, clean, failed := r.Count()
	fmt.Fprintf(&b, "%d targets: %d drifted, %d without drift, %d not checked (%d expected schema%s built, %v)\n",
		len(r.Targets), drifted, clean, failed, r.Builds, plural(r.Builds), r.Duration.Round(time.Millisecond))
	for _, t := range r.Targets {
		switch {
		case t.Err != nil:
			fmt.Fprintf(&b, "%s: not checked: %v\n", t.Target, t.Err)
		case t.Report.Drifted():
			fmt.Fprintf(&b, "%s: ", t.Target)
			b.WriteString(strings.ReplaceAll(strings.TrimRight(t.Report.String(), "\n"), "\n", "\n  "))
			b.WriteString("\n")
		default:
			fmt.Fprintf(&b, "%s: no drift at version %d\n", t.Target, t.Report.Version)
		}
	}
	return b.String()
}

// MarshalJSON writes the targets with their errors as text.
func (r *FleetReport) MarshalJSON() ([]byte, error) {
	type target struct {
		TargetReport
		Error string `json:"error,omitempty"`
	}
	drifted, clean, failed := r.Count()
	doc := struct {
		Drifted  int      `json:"drifted"`
		Clean    int      `json:"clean"`
		Failed   int      `json:"failed"`
		Builds   int      `json:"builds"`
		Targets  []target `json:"targets"`
		Duration int64    `json:"duration_ns"`
	}{drifted, clean, failed, r.Builds, nil, int64(r.Duration)}
	for _, t := range r.Targets {
		x := target{TargetReport: t}
		if t.Err != nil {
			x.Error = t.Err.Error()
		}
		doc.Targets = append(doc.Targets, x)
	}
	return json.Marshal(doc)
}

// Fleet checks each target against set, at most parallel at once (0: 4),
// each over a connection of its own. The Checker builds the expected
// schema of each distinct (set, version, history table, migrating role)
// once, so a fleet of databases at two versions costs two builds and a
// snapshot per database. A target that is a schema of a database (a
// fleet.Schemas target, with Backend.Schema set) is compared on the
// objects of its schema only, and its expected schema is built in a
// schema of that name: one build per tenant schema and version.
func (c *Checker) Fleet(ctx context.Context, targets []fleet.Target, set *source.Set, parallel int) *FleetReport {
	begin := time.Now()
	if parallel <= 0 {
		parallel = 4
	}
	before := c.builds()
	r := &FleetReport{Targets: make([]TargetReport, len(targets))}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, t := range targets {
		r.Targets[i].Target = t.Name
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r.Targets[i].Report, r.Targets[i].Err = c.checkTarget(ctx, t, set)
		}()
	}
	wg.Wait()
	r.Builds = c.builds() - before
	r.Duration = time.Since(begin)
	return r
}

func (c *Checker) checkTarget(ctx context.Context, t fleet.Target, set *source.Set) (*Report, error) {
	if t.Conn == "" {
		return nil, fmt.Errorf("drift: target %s: no connection string (a fleet drift check opens its own connections)", t.Name)
	}
	cfg, err := pgxpool.ParseConfig(t.Conn)
	if err != nil {
		return nil, fmt.Errorf("drift: target %s: %w", t.Name, err)
	}
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("drift: target %s: %w", t.Name, err)
	}
	defer pool.Close()
	bo := t.Backend
	if bo == nil {
		bo = c.opts.Backend
	}
	var schemas []string
	if bo != nil && bo.Schema != "" && len(bo.SearchPath) > 0 {
		schemas = []string{bo.Schema}
	}
	return c.check(ctx, pool, set, bo, schemas)
}

// builds returns how many expected schemas the Checker has built.
func (c *Checker) builds() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.built
}

// only returns the part of snap in schemas; all of it when schemas is
// nil.
func only(snap *schema.Snapshot, schemas []string) *schema.Snapshot {
	if schemas == nil || snap == nil {
		return snap
	}
	in := func(s string) bool { return slices.Contains(schemas, s) }
	out := &schema.Snapshot{}
	out.Schemas = keep(snap.Schemas, func(x schema.Schema) bool { return in(x.Name) })
	out.Extensions = keep(snap.Extensions, func(x schema.Extension) bool { return in(x.Schema) })
	out.Types = keep(snap.Types, func(x schema.Type) bool { return in(x.Schema) })
	out.Relations = keep(snap.Relations, func(x schema.Relation) bool { return in(x.Schema) })
	out.Sequences = keep(snap.Sequences, func(x schema.Sequence) bool { return in(x.Schema) })
	out.Functions = keep(snap.Functions, func(x schema.Function) bool { return in(x.Schema) })
	for _, x := range snap.DefaultPrivileges {
		if in(x.Schema) {
			out.DefaultPrivileges = append(out.DefaultPrivileges, x)
		}
	}
	for _, x := range snap.Objects {
		if s, _, ok := strings.Cut(x.Identity, "."); ok && in(strings.Trim(s, `"`)) {
			out.Objects = append(out.Objects, x)
		}
	}
	return out
}

func keep[T any](m map[string]T, ok func(T) bool) map[string]T {
	var out map[string]T
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if ok(m[k]) {
			if out == nil {
				out = map[string]T{}
			}
			out[k] = m[k]
		}
	}
	return out
}
