package review

import (
	"cmp"
	"slices"
	"strings"

	"github.com/waymarkdb/waymark/hazard"
	"github.com/waymarkdb/waymark/hazard/measure"
)

// resolver finds the relations a statement names among those that
// existed when its step began.
type resolver struct {
	byOID  map[uint32]measure.Relation
	byName map[string][]measure.Relation
}

func newResolver(existing []measure.Relation) *resolver {
	r := &resolver{byOID: map[uint32]measure.Relation{}, byName: map[string][]measure.Relation{}}
	for _, rel := range existing {
		r.byOID[rel.OID] = rel
		r.byName[rel.Name] = append(r.byName[rel.Name], rel)
	}
	return r
}

// follow renames the relations that statement m found under another name
// than the step's start gave them (after an ALTER TABLE ... RENAME
// earlier in the step): a statement's predictions name relations as they
// are called when it runs, and so do its measurements.
func (r *resolver) follow(m *measure.Statement) {
	if r == nil {
		return
	}
	see := func(rel measure.Relation) {
		old, ok := r.byOID[rel.OID]
		if !ok || old.Name == rel.Name && old.Schema == rel.Schema {
			return
		}
		r.byName[old.Name] = slices.DeleteFunc(r.byName[old.Name], func(x measure.Relation) bool { return x.OID == rel.OID })
		old.Name, old.Schema, old.Visible = rel.Name, rel.Schema, rel.Visible
		r.byOID[rel.OID] = old
		r.byName[rel.Name] = append(r.byName[rel.Name], old)
	}
	for _, l := range m.Locks {
		see(l.Relation)
	}
	for _, rels := range [][]measure.Relation{m.Rewritten, m.Scanned, m.InvalidIndexes, m.Dropped} {
		for _, rel := range rels {
			see(rel)
		}
	}
}

// resolve finds the relation n: in its schema when n has one, else the
// one the search_path finds (or the only one of that name).
func (r *resolver) resolve(n hazard.Name) (measure.Relation, bool) {
	cands := r.byName[n.Name]
	var found []measure.Relation
	for _, rel := range cands {
		if n.Schema != "" && rel.Schema == n.Schema || n.Schema == "" && rel.Visible {
			found = append(found, rel)
		}
	}
	if len(found) == 0 && n.Schema == "" {
		found = cands
	}
	if len(found) != 1 {
		return measure.Relation{}, false
	}
	return found[0], true
}

// name returns the table with OID oid as a hazard.Name.
func (r *resolver) name(oid uint32) hazard.Name {
	rel := r.byOID[oid]
	n := hazard.Name{Name: rel.Name}
	if !rel.Visible {
		n.Schema = rel.Schema
	}
	return n
}

// compare judges the static predictions of s against its measurement.
func compare(s *Statement, names *resolver) {
	// The effects to judge: the model's, and any a finding predicts
	// beyond it; with the rules that predict each.
	rules := map[hazard.Effect][]string{}
	effects := slices.Clone(s.Static.Effects)
	for _, f := range s.Static.Findings {
		for _, e := range f.Predicts {
			if !slices.Contains(rules[e], f.Rule) {
				rules[e] = append(rules[e], f.Rule)
			}
			if !slices.Contains(effects, e) {
				effects = append(effects, e)
			}
		}
	}
	m := s.Measured
	if m == nil || m.Control || names == nil {
		for _, e := range effects {
			s.Verdicts = append(s.Verdicts, Verdict{Effect: e, Status: Unmeasured, Rules: rules[e]})
		}
		return
	}

	// What the measurement saw, per table, on relations that existed
	// before the step.
	n := s.Pos.Statement
	held := map[uint32][]hazard.LockMode{}  // every mode held
	taken := map[uint32]hazard.LockMode{}   // the strongest this statement took
	earlier := map[uint32]hazard.LockMode{} // the strongest that earlier statements of the step took
	for _, l := range m.Locks {
		if l.Relation.New || l.Relation.Dropped && l.Relation.Table != 0 {
			// A relation the step made is nobody else's yet; an index the
			// statement dropped was out of use when it was locked (DROP
			// INDEX without CONCURRENTLY locks the table itself).
			continue
		}
		root := l.Relation.Root()
		held[root] = append(held[root], l.Mode)
		if (l.Since == n || m.Observed) && l.Mode > taken[root] {
			taken[root] = l.Mode
		}
		if l.Since != n && !m.Observed {
			earlier[root] = max(earlier[root], l.Mode)
		}
	}
	rewritten := map[uint32][]string{}
	for _, rel := range m.Rewritten {
		if !rel.New && rel.Kind != "sequence" {
			rewritten[rel.Root()] = append(rewritten[rel.Root()], rel.String())
		}
	}
	scanned := map[uint32]bool{}
	for _, rel := range m.Scanned {
		if !rel.New {
			scanned[rel.Root()] = true
		}
	}

	// The verdicts.
	predLock := map[uint32]hazard.LockMode{}
	predRewrite, predScan := map[uint32]bool{}, map[uint32]bool{}
	for _, e := range effects {
		v := Verdict{Effect: e, Rules: rules[e]}
		rel, ok := names.resolve(e.Relation)
		if !ok {
			v.Status = New
			s.Verdicts = append(s.Verdicts, v)
			continue
		}
		root := rel.Root()
		switch e.Kind {
		case hazard.Lock:
			predLock[root] = max(predLock[root], e.Mode)
			v.Status = Refuted
			v.Detail = "measured no lock"
			if strongest := strongestOf(held[root]); strongest != 0 {
				v.Detail = "measured " + strongest.String()
			}
			for _, mode := range held[root] {
				if mode.Covers(e.Mode) {
					v.Status, v.Detail = Confirmed, ""
				}
			}
		case hazard.Rewrite:
			predRewrite[root] = true
			v.Status, v.Detail = Refuted, "measured no rewrite"
			if rw := rewritten[root]; len(rw) > 0 {
				v.Status, v.Detail = Confirmed, strings.Join(rw, ", ")
			}
		case hazard.Scan:
			predScan[root] = true
			switch {
			case !m.ScansMeasured:
				v.Status = Unmeasured
			case scanned[root]:
				v.Status = Confirmed
			default:
				v.Status, v.Detail = Refuted, "measured no sequential scan"
			}
		}
		s.Verdicts = append(s.Verdicts, v)
	}

	// What no prediction covers.
	for root, mode := range taken {
		if mode < hazard.ShareUpdateExclusive || predLock[root] != 0 && predLock[root].Covers(mode) {
			continue
		}
		if earlier[root].Covers(mode) {
			// The step held as much on the table already (a sequence
			// that the table's column owns, locked after the table):
			// the lock adds nothing.
			continue
		}
		detail := "no lock predicted"
		if predLock[root] != 0 {
			detail = "predicted " + predLock[root].String()
		}
		s.Unpredicted = append(s.Unpredicted, Fact{Effect: hazard.Effect{Kind: hazard.Lock, Mode: mode, Relation: names.name(root)},
			Hazard: mode.BlocksWrites(), Detail: detail})
	}
	for root, rels := range rewritten {
		if !predRewrite[root] {
			s.Unpredicted = append(s.Unpredicted, Fact{Effect: hazard.Effect{Kind: hazard.Rewrite, Relation: names.name(root)},
				Hazard: true, Detail: strings.Join(rels, ", ")})
		}
	}
	// A scan of a table the rules expected the statement to lock only
	// makes that lock last longer; one of a table they did not expect it
	// to touch, under a lock that blocks writes, is news.
	for root := range scanned {
		if !predScan[root] && predLock[root] == 0 && strongestOf(held[root]).BlocksWrites() {
			// When the statement took that lock, the lock is the hazard.
			s.Unpredicted = append(s.Unpredicted, Fact{Effect: hazard.Effect{Kind: hazard.Scan, Relation: names.name(root)},
				Hazard: !taken[root].BlocksWrites(), Detail: "while holding " + strongestOf(held[root]).String()})
		}
	}
	for _, rel := range m.InvalidIndexes {
		if rel.Kind == "index" {
			s.Unpredicted = append(s.Unpredicted, Fact{Effect: hazard.Effect{Relation: hazard.Name{Name: rel.Name}},
				InvalidIndex: true, Hazard: true})
		}
	}
	slices.SortFunc(s.Unpredicted, func(a, b Fact) int {
		last := func(f Fact) int {
			if f.InvalidIndex {
				return 1
			}
			return 0
		}
		return cmp.Or(cmp.Compare(last(a), last(b)), cmp.Compare(a.Effect.Kind, b.Effect.Kind),
			strings.Compare(a.Effect.Relation.String(), b.Effect.Relation.String()))
	})

	s.refute()

	// Hazards no rule predicted are findings of the measured rules.
	for _, f := range s.Unpredicted {
		if !f.Hazard {
			continue
		}
		rule := hazard.RuleMeasuredLock
		switch {
		case f.InvalidIndex:
			rule = hazard.RuleMeasuredInvalidIdx
		case f.Effect.Kind == hazard.Rewrite:
			rule = hazard.RuleMeasuredRewrite
		}
		r, _ := hazard.LookupRule(rule)
		finding := &hazard.Finding{Rule: rule, Severity: r.Severity, Pos: s.Pos,
			Reason: "measured: " + f.String() + "; no rule predicted it", Safer: r.Safer}
		if f.Effect.Kind != 0 {
			finding.Predicts = []hazard.Effect{f.Effect}
		}
		for i, a := range s.Static.Allows {
			if a.Rule == rule {
				finding.Allowed = &s.Static.Allows[i]
			}
		}
		s.Findings = append(s.Findings, finding)
	}
}

// strongestOf returns the strongest of modes, or 0.
func strongestOf(modes []hazard.LockMode) hazard.LockMode {
	var m hazard.LockMode
	for _, x := range modes {
		m = max(m, x)
	}
	return m
}

// refute moves out of s.Findings the static findings whose hazard the
// measurement refuted: a finding that predicts scans or rewrites is
// refuted when each of them was measured not to happen (a lock without
// them is brief); one that predicts locks alone, when each lock was.
func (s *Statement) refute() {
	status := map[hazard.Effect]Status{}
	for _, v := range s.Verdicts {
		status[v.Effect] = v.Status
	}
	keep := s.Findings[:0]
	for _, f := range s.Findings {
		var long, locks []Status
		for _, e := range f.Predicts {
			if e.Kind == hazard.Lock {
				locks = append(locks, status[e])
			} else {
				long = append(long, status[e])
			}
		}
		judged := long
		if len(judged) == 0 {
			judged = locks
		}
		refuted := len(judged) > 0
		for _, st := range judged {
			refuted = refuted && st == Refuted
		}
		if refuted {
			s.Refuted = append(s.Refuted, f)
			continue
		}
		keep = append(keep, f)
	}
	s.Findings = keep
}
