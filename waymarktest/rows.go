package waymarktest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waymarkdb/waymark/schema"
)

// tableRows holds the rows of a table as a round trip saw them before a
// down script: the values, as text, of the columns the table had before
// the version's up script.
type tableRows struct {
	table string   // "schema.name"
	cols  []string // column names
	// types are the columns' types before the up script; read, the types
	// when the rows were read (after it), when they differ.
	types, read []string
	key         []int // positions in cols of the primary key, or nil
	rows        [][]*string
}

// savedRows reads, for every table of before (the schema before an up
// script) that first (the schema after it) still has, the values of the
// columns both schemas have, for [changedValues] to compare after the
// down script.
func savedRows(ctx context.Context, conn *pgxpool.Conn, before, first *schema.Snapshot) ([]*tableRows, error) {
	var saved []*tableRows
	for _, name := range sortedKeys(before.Relations) {
		was := before.Relations[name]
		now, ok := first.Relations[name]
		if !ok || was.Kind != "table" || now.Kind != "table" {
			continue
		}
		t := &tableRows{table: name}
		for _, c := range was.Columns {
			i := slices.IndexFunc(now.Columns, func(n schema.Column) bool { return n.Name == c.Name })
			if i < 0 {
				continue // dropped, or renamed, by the up script
			}
			t.cols = append(t.cols, c.Name)
			t.types = append(t.types, c.Type)
			t.read = append(t.read, now.Columns[i].Type)
		}
		if len(t.cols) == 0 {
			continue
		}
		key, err := primaryKey(ctx, conn, was.Schema, was.Name)
		if err != nil {
			return nil, err
		}
		t.key = keyPositions(t, key)
		if t.rows, err = readRows(ctx, conn, was.Schema, was.Name, t.cols); err != nil {
			return nil, err
		}
		if err := t.convert(ctx, conn); err != nil {
			return nil, err
		}
		saved = append(saved, t)
	}
	return saved, nil
}

// keyPositions returns the positions in t.cols of the key columns, or nil
// when one of them is not compared or changed its type.
func keyPositions(t *tableRows, key []string) []int {
	var pos []int
	for _, k := range key {
		i := slices.Index(t.cols, k)
		if i < 0 || t.types[i] != t.read[i] {
			return nil
		}
		pos = append(pos, i)
	}
	return pos
}

// convert rewrites the values of the columns whose type the up script
// changed as the type before it writes them (varchar(320) back to text,
// numeric(10,2) back to integer), so that a down script that changes the
// type back is not taken for one that changed the values. A value the
// server cannot cast back stays as it was read.
func (t *tableRows) convert(ctx context.Context, conn *pgxpool.Conn) error {
	for i := range t.cols {
		if t.types[i] == t.read[i] {
			continue
		}
		expr := func(v string) string { return "CAST(CAST(" + v + " AS " + t.read[i] + ") AS " + t.types[i] + ")::text" }
		cast := map[string]string{}
		// All the distinct values in one query; one by one when a value
		// does not cast.
		var distinct []string
		seen := map[string]bool{}
		for _, row := range t.rows {
			if v := row[i]; v != nil && !seen[*v] {
				seen[*v] = true
				distinct = append(distinct, *v)
			}
		}
		rows, err := conn.Query(ctx, "SELECT v, "+expr("v")+" FROM unnest($1::text[]) v", distinct)
		if err == nil {
			var v string
			var out *string
			_, err = pgx.ForEachRow(rows, []any{&v, &out}, func() error {
				if out != nil {
					cast[v] = *out
				}
				return nil
			})
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		sql := "SELECT " + expr("$1::text")
		for _, row := range t.rows {
			v := row[i]
			if v == nil {
				continue
			}
			c, ok := cast[*v]
			if !ok {
				c = *v
				if err != nil { // the batch failed: this value alone
					var out *string
					if qerr := conn.QueryRow(ctx, sql, *v).Scan(&out); qerr == nil && out != nil {
						c = *out
					} else if ctx.Err() != nil {
						return ctx.Err()
					}
				}
				cast[*v] = c
			}
			row[i] = &c
		}
	}
	return nil
}

// primaryKey returns the columns of the primary key of table schema.name,
// in order, or nil.
func primaryKey(ctx context.Context, conn *pgxpool.Conn, schemaName, name string) ([]string, error) {
	rows, err := conn.Query(ctx, `SELECT a.attname FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
WHERE i.indrelid = $1::regclass AND i.indisprimary
ORDER BY array_position(i.indkey::int2[], a.attnum)`, pgx.Identifier{schemaName, name}.Sanitize())
	if err != nil {
		return nil, fmt.Errorf("read the primary key of %s.%s: %w", schemaName, name, err)
	}
	key, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read the primary key of %s.%s: %w", schemaName, name, err)
	}
	return key, nil
}

// readRows reads the values of cols, as text, of every row of table
// schema.name.
func readRows(ctx context.Context, conn *pgxpool.Conn, schemaName, name string, cols []string) ([][]*string, error) {
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = pgx.Identifier{c}.Sanitize() + "::text"
	}
	sql := "SELECT " + strings.Join(exprs, ", ") + " FROM " + pgx.Identifier{schemaName, name}.Sanitize()
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("read the rows of %s.%s: %w", schemaName, name, err)
	}
	defer rows.Close()
	var out [][]*string
	for rows.Next() {
		row := make([]*string, len(cols))
		dest := make([]any, len(cols))
		for i := range row {
			dest[i] = &row[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("read the rows of %s.%s: %w", schemaName, name, err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the rows of %s.%s: %w", schemaName, name, err)
	}
	return out, nil
}

// changedValues reads again, after a down script, the rows saved before
// it, and returns one line for each column whose values differ (naming
// the table, the column and an example row), or "" when none does. A
// table that the down script dropped, or that lost rows, is left to the
// schema and row count checks.
func changedValues(ctx context.Context, conn *pgxpool.Conn, saved []*tableRows, afterDown *schema.Snapshot) (string, error) {
	var b strings.Builder
	for _, t := range saved {
		r, ok := afterDown.Relations[t.table]
		if !ok {
			continue
		}
		var cols []string // those the table still has
		for _, c := range t.cols {
			if slices.ContainsFunc(r.Columns, func(n schema.Column) bool { return n.Name == c }) {
				cols = append(cols, c)
			}
		}
		if len(cols) != len(t.cols) {
			continue // the schema check reports the column
		}
		after, err := readRows(ctx, conn, r.Schema, r.Name, t.cols)
		if err != nil {
			return "", err
		}
		if len(after) < len(t.rows) {
			continue // the row count check reports it
		}
		if t.key != nil {
			t.compareByKey(&b, after)
		} else {
			t.compareValues(&b, after)
		}
	}
	return b.String(), nil
}

// compareByKey matches the rows of t with those read after the down
// script by primary key and writes a line for each column whose values
// differ, with the first such row.
func (t *tableRows) compareByKey(b *strings.Builder, after [][]*string) {
	byKey := make(map[string][]*string, len(after))
	for _, row := range after {
		byKey[t.keyOf(row)] = row
	}
	type change struct {
		n        int
		row, got []*string
	}
	changes := make([]change, len(t.cols))
	missing, firstMissing := 0, []*string(nil)
	for _, row := range t.rows {
		a, ok := byKey[t.keyOf(row)]
		if !ok {
			if missing++; missing == 1 {
				firstMissing = row
			}
			continue
		}
		for i := range t.cols {
			if !sameValue(row[i], a[i]) {
				if changes[i].n++; changes[i].n == 1 {
					changes[i].row, changes[i].got = row, a
				}
			}
		}
	}
	if missing > 0 {
		fmt.Fprintf(b, "  %s: %d of %d rows are not there after the down script, by %s; e.g. %s\n",
			t.table, missing, len(t.rows), t.keyNames(), t.describe(firstMissing, t.key))
	}
	for i, c := range changes {
		if c.n == 0 {
			continue
		}
		fmt.Fprintf(b, "  %s.%s: %d of %d rows have another value after the down script; e.g. the row %s: %s before it, %s after\n",
			t.table, t.cols[i], c.n, len(t.rows), t.describe(c.row, t.key), show(c.row[i]), show(c.got[i]))
	}
}

// compareValues compares, for a table without a primary key, the values
// of each column before and after the down script, as multisets, and
// writes a line for each column that lost a value, with a row that had it.
func (t *tableRows) compareValues(b *strings.Builder, after [][]*string) {
	all := make([]int, len(t.cols))
	for i := range all {
		all[i] = i
	}
	for i := range t.cols {
		left := map[string]int{}
		for _, row := range after {
			left[valueKey(row[i])]++
		}
		n, example := 0, []*string(nil)
		for _, row := range t.rows {
			k := valueKey(row[i])
			if left[k] > 0 {
				left[k]--
				continue
			}
			if n++; n == 1 {
				example = row
			}
		}
		if n > 0 {
			fmt.Fprintf(b, "  %s.%s: %d of %d values are not there after the down script; e.g. %s of the row %s\n",
				t.table, t.cols[i], n, len(t.rows), show(example[i]), t.describe(example, all))
		}
	}
}

// keyOf returns the primary key of row as a map key.
func (t *tableRows) keyOf(row []*string) string {
	var b strings.Builder
	for _, i := range t.key {
		b.WriteString(valueKey(row[i]))
		b.WriteByte(0)
	}
	return b.String()
}

// keyNames lists the primary key's columns: "(id)".
func (t *tableRows) keyNames() string {
	names := make([]string, len(t.key))
	for j, i := range t.key {
		names[j] = t.cols[i]
	}
	return "(" + strings.Join(names, ", ") + ")"
}

// describe writes the columns at positions of row: "(id, email) = (1, NULL)".
func (t *tableRows) describe(row []*string, positions []int) string {
	names := make([]string, len(positions))
	values := make([]string, len(positions))
	for j, i := range positions {
		names[j], values[j] = t.cols[i], show(row[i])
	}
	return "(" + strings.Join(names, ", ") + ") = (" + strings.Join(values, ", ") + ")"
}

func sameValue(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// valueKey is v as a map key that tells NULL from every string.
func valueKey(v *string) string {
	if v == nil {
		return "\x00NULL"
	}
	return "=" + *v
}

// show writes v as in a message: quoted, or NULL.
func show(v *string) string {
	if v == nil {
		return "NULL"
	}
	s := *v
	if r := []rune(s); len(r) > 60 {
		s = string(r[:57]) + "..."
	}
	return strconv.Quote(s)
}
