package hazard

import (
	"strconv"
	"strings"

	"github.com/waymarkdb/waymark/internal/sqlsplit"
)

// typeName is a column's type as far as the checker needs it: the base
// type under one canonical name, its modifiers and whether it is an array.
type typeName struct {
	base  string // "varchar", "numeric", "timestamptz", or the name as written
	mods  []int  // type modifiers: varchar(20) has [20]; nil when none or not numbers
	array bool
	// serial is set for smallserial, serial and bigserial, which are an
	// integer type with a nextval() default.
	serial bool
}

func (t typeName) String() string {
	s := t.base
	if len(t.mods) > 0 {
		parts := make([]string, len(t.mods))
		for i, m := range t.mods {
			parts[i] = strconv.Itoa(m)
		}
		s += "(" + strings.Join(parts, ",") + ")"
	}
	if t.array {
		s += "[]"
	}
	return s
}

func (t typeName) known() bool { return t.base != "" }

// typeStops are the words that end a type in a column definition.
var typeStops = []string{"not", "null", "default", "constraint", "check", "references", "unique",
	"primary", "generated", "collate", "using", "compression", "storage", "with", "without"}

// aliases maps the names PostgreSQL accepts for built-in types to one name.
var aliases = map[string]string{
	"int": "integer", "int4": "integer", "integer": "integer",
	"smallint": "smallint", "int2": "smallint",
	"bigint": "bigint", "int8": "bigint",
	"serial": "integer", "serial4": "integer", "smallserial": "smallint", "serial2": "smallint",
	"bigserial": "bigint", "serial8": "bigint",
	"varchar": "varchar", "character varying": "varchar",
	"char": "bpchar", "character": "bpchar", "bpchar": "bpchar",
	"decimal": "numeric", "numeric": "numeric",
	"real": "real", "float4": "real", "double precision": "double", "float8": "double",
	"bool": "boolean", "boolean": "boolean",
	"timestamp": "timestamp", "timestamp without time zone": "timestamp",
	"timestamptz": "timestamptz", "timestamp with time zone": "timestamptz",
	"time": "time", "time without time zone": "time",
	"timetz": "timetz", "time with time zone": "timetz",
	"varbit": "varbit", "bit varying": "varbit",
}

// readType reads a type at the cursor, stopping at a comma, a closing
// parenthesis, the end, or a word that starts a column constraint.
func readType(c *cursor) typeName {
	var words []string
	var t typeName
	for !c.done() && !c.isOp(",") && !c.isOp(")") {
		tok := c.peek()
		switch {
		case (tok.Is("with") || tok.Is("without")) && c.at(1).Is("time") && c.at(2).Is("zone"):
			words = append(words, strings.ToLower(tok.Text), "time", "zone")
			c.i += 3
		case isAny(tok, typeStops...):
			return finishType(t, words)
		case c.isOp("("):
			t.mods = readMods(c.group())
		case c.isOp("["):
			c.skipGroup()
			t.array = true
		case tok.Is("array"):
			c.next()
			t.array = true
			if c.isOp("[") {
				c.skipGroup()
			}
		case c.isOp("."):
			// pg_catalog.int4: keep only the last part.
			c.next()
			words = words[:0]
		default:
			s, ok := tok.Ident()
			if !ok {
				return finishType(t, words)
			}
			words = append(words, s)
			c.next()
		}
	}
	return finishType(t, words)
}

func finishType(t typeName, words []string) typeName {
	written := strings.Join(words, " ")
	if written == "" {
		return typeName{}
	}
	switch written {
	case "serial", "serial4", "smallserial", "serial2", "bigserial", "serial8":
		t.serial = true
	}
	t.base = written
	if a, ok := aliases[written]; ok {
		t.base = a
	}
	// time(3) with time zone puts the modifier in the middle; so do
	// timestamp(3) and float(p).
	if t.base == "float" {
		t.base = "double"
		if len(t.mods) == 1 && t.mods[0] <= 24 {
			t.base = "real"
		}
		t.mods = nil
	}
	if t.base == "bpchar" && t.mods == nil && (written == "char" || written == "character") {
		t.mods = []int{1} // char means char(1)
	}
	return t
}

// readMods reads type modifiers such as (20) or (12, 2); nil if any is not
// a plain number.
func readMods(toks []sqlsplit.Token) []int {
	var mods []int
	for _, el := range split(toks) {
		if len(el) != 1 || el[0].Kind != sqlsplit.Number {
			return nil
		}
		n, err := strconv.Atoi(el[0].Text)
		if err != nil {
			return nil
		}
		mods = append(mods, n)
	}
	return mods
}

func isAny(t sqlsplit.Token, kws ...string) bool {
	for _, kw := range kws {
		if t.Is(kw) {
			return true
		}
	}
	return false
}

// conversion is what changing a column's type does to the table.
type conversion int8

const (
	convRewrite   conversion = iota // the table and its indexes are written anew
	convNoRewrite                   // only the catalog changes (binary-compatible)
	convUnknown                     // the old type is not known
	convTimeZone                    // timestamp <-> timestamptz: no rewrite only when the session's TimeZone is UTC
)

// convert says whether ALTER COLUMN ... TYPE from old to new rewrites the
// table, following PostgreSQL's rules: a binary-compatible cast, or one
// that only relaxes a length or precision limit, does not rewrite.
func convert(old, new typeName) conversion {
	if !old.known() {
		return convUnknown
	}
	if old.array != new.array {
		return convRewrite
	}
	if old.base == new.base {
		if equalMods(old.mods, new.mods) {
			return convNoRewrite
		}
		switch old.base {
		case "varchar", "varbit":
			if len(new.mods) == 0 || len(old.mods) == 1 && len(new.mods) == 1 && new.mods[0] >= old.mods[0] {
				return convNoRewrite
			}
		case "numeric":
			// numeric(p,s) to numeric(q,s) with q >= p, or to plain numeric.
			if len(new.mods) == 0 {
				return convNoRewrite
			}
			if len(old.mods) > 0 {
				os, ns := 0, 0
				if len(old.mods) > 1 {
					os = old.mods[1]
				}
				if len(new.mods) > 1 {
					ns = new.mods[1]
				}
				if os == ns && new.mods[0] >= old.mods[0] {
					return convNoRewrite
				}
			}
		case "timestamp", "timestamptz", "time", "timetz", "interval":
			if len(new.mods) == 0 || len(old.mods) == 1 && len(new.mods) == 1 && new.mods[0] >= old.mods[0] {
				return convNoRewrite
			}
		}
		return convRewrite
	}
	switch {
	case old.base == "varchar" && new.base == "text",
		old.base == "text" && new.base == "varchar" && len(new.mods) == 0,
		old.base == "cidr" && new.base == "inet":
		return convNoRewrite
	case old.base == "timestamp" && new.base == "timestamptz",
		old.base == "timestamptz" && new.base == "timestamp":
		if len(new.mods) == 0 || len(old.mods) == 1 && len(new.mods) == 1 && new.mods[0] >= old.mods[0] {
			return convTimeZone
		}
	}
	return convRewrite
}

func equalMods(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
