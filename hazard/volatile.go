package hazard

import (
	"github.com/waymarkdb/waymark/internal/sqlsplit"
)

// volatility says whether an expression can give a different value for
// each row, which decides whether ADD COLUMN ... DEFAULT rewrites the
// table: since PostgreSQL 11 a default that is not volatile is computed
// once and stored in the catalog.
type volatility int8

const (
	notVolatile volatility = iota
	volatile
	unknownVolatility // calls a function waymark does not know
)

// volatileFuncs are built-in functions (and common extension functions)
// that PostgreSQL marks VOLATILE and that appear in defaults.
var volatileFuncs = map[string]bool{
	"random": true, "random_normal": true, "setseed": true,
	"clock_timestamp": true, "timeofday": true,
	"gen_random_uuid": true, "uuidv4": true, "uuidv7": true,
	"uuid_generate_v1": true, "uuid_generate_v1mc": true, "uuid_generate_v4": true,
	"gen_random_bytes": true, "gen_salt": true,
	"nextval": true, "currval": true, "lastval": true, "setval": true,
	"array_shuffle": true, "array_sample": true,
	"txid_current": true, "pg_current_xact_id": true,
}

// stableFuncs are built-in functions that are STABLE or IMMUTABLE and
// common in defaults; any other function is of unknown volatility (a
// function created without a volatility is VOLATILE).
var stableFuncs = map[string]bool{
	"now": true, "transaction_timestamp": true, "statement_timestamp": true,
	"current_setting": true, "current_database": true, "current_schema": true,
	"lower": true, "upper": true, "length": true, "concat": true, "concat_ws": true,
	"md5": true, "sha256": true, "encode": true, "decode": true, "format": true,
	"substr": true, "replace": true, "left": true, "right": true, "btrim": true,
	"to_char": true, "to_date": true, "to_timestamp": true, "to_number": true,
	"date_trunc": true, "date_part": true, "make_date": true, "make_time": true,
	"make_timestamp": true, "make_timestamptz": true, "make_interval": true,
	"to_json": true, "to_jsonb": true, "json_build_object": true, "jsonb_build_object": true,
	"json_build_array": true, "jsonb_build_array": true, "array_fill": true,
	"abs": true, "round": true, "floor": true, "ceil": true, "ceiling": true,
	"int4": true, "int8": true, "numeric": true, "text": true, "timezone": true,
}

// notFunctions are key words followed by a parenthesis that are not calls
// of a user-visible function of unknown volatility.
var notFunctions = map[string]bool{
	"cast": true, "coalesce": true, "nullif": true, "greatest": true, "least": true,
	"row": true, "array": true, "extract": true, "position": true, "substring": true,
	"trim": true, "overlay": true, "interval": true, "timestamp": true, "time": true,
	"varchar": true, "char": true, "character": true, "numeric": true, "decimal": true,
	"float": true, "bit": true, "in": true, "any": true, "all": true, "some": true,
	"exists": true, "values": true, "normalize": true, "collation": true, "treat": true,
}

// exprVolatility classifies an expression's tokens, and returns the name
// of the function that decided it ("" when nothing did). funcs holds the
// volatility of the functions the scripts created, by Name.key.
func exprVolatility(toks []sqlsplit.Token, funcs map[string]volatility) (volatility, string) {
	result, culprit := notVolatile, ""
	c := sub(toks)
	for !c.done() {
		// A cast: skip the type name, whose modifiers look like a call.
		if c.isOp(":") && c.at(1).Kind == sqlsplit.Op && c.at(1).Text == ":" {
			c.i += 2
			readType(c)
			continue
		}
		n, ok := c.peek().Ident()
		if !ok || c.peek().Kind != sqlsplit.Word {
			c.next()
			continue
		}
		name := Name{Name: n}
		start := c.i
		if qn, ok := c.name(); ok {
			name = qn
		}
		if !c.isOp("(") {
			if c.i == start {
				c.next()
			}
			continue
		}
		fn := name.Name
		v, created := funcs[name.key()]
		switch {
		case created && v == volatile:
			return volatile, name.String()
		case created:
		case name.Schema != "" && name.Schema != "pg_catalog":
			if result == notVolatile {
				result, culprit = unknownVolatility, name.String()
			}
		case volatileFuncs[fn]:
			return volatile, fn
		case stableFuncs[fn], notFunctions[fn] && name.Schema == "":
		default:
			if result == notVolatile {
				result, culprit = unknownVolatility, fn
			}
		}
	}
	return result, culprit
}

// createFunction reads the rest of CREATE [OR REPLACE] FUNCTION name
// (...) ... and records the function's volatility: IMMUTABLE, STABLE, or
// VOLATILE (the default).
func (k *checker) createFunction(c *cursor) {
	n, ok := c.name()
	if !ok {
		return
	}
	v := volatile
	for !c.done() {
		switch {
		case c.accept("immutable"), c.accept("stable"):
			v = notVolatile
		case c.accept("volatile"):
			v = volatile
		default:
			if !c.skipGroup() {
				c.next()
			}
		}
	}
	k.model.funcs[n.key()] = v
}
