package hazard

import (
	"slices"
	"strings"
)

// schema is what the checker knows of the database the scripts run on:
// the relations that the scripts it has read so far create, with the
// columns, constraints and indexes that decide its verdicts. Anything a
// script did not create is unknown, and the checker says so rather than
// guess.
type schema struct {
	rels  map[string]*relation  // by Name.key
	funcs map[string]volatility // the functions the scripts created, by Name.key
}

type relKind int8

const (
	relTable relKind = iota + 1
	relPartitioned
	relIndex
	relView
	relMatView
	relSequence
)

type relation struct {
	kind relKind
	name Name
	// For a table: its columns, or nil when not known (CREATE TABLE AS,
	// LIKE); its constraints by name.
	columns map[string]*column
	cons    map[string]*constraint
	// For an index: its table's key and its plain columns (nil when it
	// has expressions).
	table     string
	indexCols []string
	// For a partition: its parent's key, and whether it is the parent's
	// DEFAULT partition.
	parent      string
	defaultPart bool
	// For a partitioned table: its partition key's plain columns.
	partKey []string
	// For a view or materialized view: the keys of the relations its
	// query reads (FROM and JOIN), so that DROP ... CASCADE knows what
	// it drops with them.
	reads []string
}

type column struct {
	typ     typeName
	notNull bool
}

type constraint struct {
	kind  byte // 'c' check, 'f' foreign key, 'p' primary key, 'u' unique, 'n' not null, 'x' exclusion
	valid bool
	// notNull is the column that a CHECK (col IS NOT NULL) or a NOT NULL
	// constraint covers.
	notNull string
	// ref is the key of the table a foreign key references; cols are
	// the constrained columns (of a foreign key, a key or a check when
	// known) and refCols the referenced ones (nil: the referenced
	// table's primary key).
	ref     string
	cols    []string
	refCols []string
}

func newSchema() *schema {
	return &schema{rels: map[string]*relation{}, funcs: map[string]volatility{}}
}

func (s *schema) lookup(n Name) *relation { return s.rels[n.key()] }

// table returns the table named n, or nil when it is not known.
func (s *schema) table(n Name) *relation {
	r := s.lookup(n)
	if r == nil || r.kind != relTable && r.kind != relPartitioned {
		return nil
	}
	return r
}

// tableOf returns the name of the table of index n, or the zero Name
// when the index or its table is not known.
func (s *schema) tableOf(n Name) Name {
	idx := s.lookup(n)
	if idx == nil || idx.kind != relIndex {
		return Name{}
	}
	if t := s.rels[idx.table]; t != nil {
		return t.name
	}
	return Name{}
}

func (s *schema) add(r *relation) {
	if r.kind == relTable || r.kind == relPartitioned {
		if r.cons == nil {
			r.cons = map[string]*constraint{}
		}
	}
	s.rels[r.name.key()] = r
}

// drop forgets a relation and, for a table, its indexes and partitions.
func (s *schema) drop(n Name) {
	k := n.key()
	delete(s.rels, k)
	for key, r := range s.rels {
		if r.kind == relIndex && r.table == k || r.parent == k {
			s.drop(r.name)
			delete(s.rels, key)
		}
	}
}

// partitions returns the partitions of the table with key k, and theirs
// in turn, in no particular order.
func (s *schema) partitions(k string) []*relation {
	var out []*relation
	for _, r := range s.rels {
		if r.parent == k && (r.kind == relTable || r.kind == relPartitioned) {
			out = append(out, r)
			out = append(out, s.partitions(r.name.key())...)
		}
	}
	return out
}

// partitionsSorted returns the partitions of the table with key k, and
// theirs, sorted by key.
func (s *schema) partitionsSorted(k string) []*relation {
	parts := s.partitions(k)
	slices.SortFunc(parts, func(a, b *relation) int { return strings.Compare(a.name.key(), b.name.key()) })
	return parts
}

// defaultPartition returns the DEFAULT partition of the table with key
// k, or nil.
func (s *schema) defaultPartition(k string) *relation {
	for _, r := range s.rels {
		if r.parent == k && r.defaultPart {
			return r
		}
	}
	return nil
}

// dependents returns the views and materialized views that read the
// relation with key k, directly or through other views.
func (s *schema) dependents(k string) []*relation {
	var out []*relation
	seen := map[string]bool{k: true}
	queue := []string{k}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for key, r := range s.rels {
			if seen[key] || r.kind != relView && r.kind != relMatView || !slices.Contains(r.reads, cur) {
				continue
			}
			seen[key] = true
			out = append(out, r)
			queue = append(queue, key)
		}
	}
	return out
}

// referencingClosure returns the tables that reference the table with
// key k through foreign keys, directly or through others: what TRUNCATE
// ... CASCADE empties with it.
func (s *schema) referencingClosure(k string) []string {
	seen := map[string]bool{k: true}
	var out []string
	queue := []string{k}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, r := range s.referencing(cur) {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
				queue = append(queue, r)
			}
		}
	}
	slices.Sort(out)
	return out
}

// foreignKeysOn returns the foreign keys of table t that constrain column
// col, and the keys of the other tables whose foreign keys reference
// col of t (its primary key's column when they name no column).
func (s *schema) foreignKeysOn(t *relation, col string) (own []*constraint, referencing []string) {
	for _, con := range t.cons {
		if con.kind == 'f' && slices.Contains(con.cols, col) {
			own = append(own, con)
		}
	}
	key := t.name.key()
	pk := t.primaryKey()
	for rk, r := range s.rels {
		if rk == key {
			continue
		}
		for _, con := range r.cons {
			if con.kind != 'f' || con.ref != key {
				continue
			}
			if slices.Contains(con.refCols, col) || con.refCols == nil && slices.Contains(pk, col) {
				referencing = append(referencing, rk)
				break
			}
		}
	}
	slices.Sort(referencing)
	return own, referencing
}

// primaryKey returns the columns of t's primary key, when known.
func (t *relation) primaryKey() []string {
	for _, con := range t.cons {
		if con.kind == 'p' {
			return con.cols
		}
	}
	return nil
}

// rename moves a relation to a new name (in the same schema).
func (s *schema) rename(n Name, to string) {
	r := s.lookup(n)
	if r == nil {
		return
	}
	old := n.key()
	delete(s.rels, old)
	r.name.Name = to
	s.rels[r.name.key()] = r
	for _, o := range s.rels {
		if o.kind == relIndex && o.table == old {
			o.table = r.name.key()
		}
		if o.parent == old {
			o.parent = r.name.key()
		}
		for i, k := range o.reads {
			if k == old {
				o.reads[i] = r.name.key()
			}
		}
		for _, con := range o.cons {
			if con.ref == old {
				con.ref = r.name.key()
			}
		}
	}
}

// indexesOf returns the indexes known on the table with key k.
func (s *schema) indexesOf(k string) []*relation {
	var out []*relation
	for _, r := range s.rels {
		if r.kind == relIndex && r.table == k {
			out = append(out, r)
		}
	}
	return out
}

// referencing returns the keys of the tables with a foreign key to the
// table with key k, other than k itself.
func (s *schema) referencing(k string) []string {
	var out []string
	for key, r := range s.rels {
		if key == k {
			continue
		}
		for _, con := range r.cons {
			if con.kind == 'f' && con.ref == k {
				out = append(out, key)
				break
			}
		}
	}
	return out
}

// provenNotNull reports whether a validated constraint of t proves that
// column col holds no NULL: a CHECK (col IS NOT NULL) or, from PostgreSQL
// 18, a NOT NULL constraint.
func (t *relation) provenNotNull(col string) bool {
	for _, con := range t.cons {
		if con.valid && con.notNull == col && (con.kind == 'c' || con.kind == 'n') {
			return true
		}
	}
	return false
}

// defaultConstraintName returns the name PostgreSQL gives a constraint
// that the statement does not name: table_col_suffix (truncation to 63
// bytes aside).
func defaultConstraintName(table string, cols []string, suffix string) string {
	parts := append([]string{table}, cols...)
	return strings.Join(append(parts, suffix), "_")
}
