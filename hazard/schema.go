package hazard

import "strings"

// schema is what the checker knows of the database the scripts run on:
// the relations that the scripts it has read so far create, with the
// columns, constraints and indexes that decide its verdicts. Anything a
// script did not create is unknown, and the checker says so rather than
// guess.
type schema struct {
	rels map[string]*relation // by Name.key
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
	// ref is the key of the table a foreign key references.
	ref string
}

func newSchema() *schema { return &schema{rels: map[string]*relation{}} }

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

// drop forgets a relation and, for a table, its indexes.
func (s *schema) drop(n Name) {
	k := n.key()
	delete(s.rels, k)
	for key, r := range s.rels {
		if r.kind == relIndex && r.table == k {
			delete(s.rels, key)
		}
	}
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
