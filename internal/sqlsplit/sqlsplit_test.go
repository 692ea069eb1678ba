package sqlsplit

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*/want.txt with the current output")

// TestGolden splits each testdata/<case>/input.sql and compares the result,
// in the format written by formatPieces, with testdata/<case>/want.txt.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "input.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no golden cases in testdata")
	}
	for _, input := range dirs {
		dir := filepath.Dir(input)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			src, err := os.ReadFile(input)
			if err != nil {
				t.Fatal(err)
			}
			stmts, err := Split(string(src))
			checkSplit(t, string(src), stmts, err)
			got := formatPieces(stmts, err)

			golden := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// formatPieces renders the result of Split for a golden file. Each piece is
// a header line
//
//	--- line:col sql=start..end text=offset..end
//
// followed by the piece's SQL, or "sql=(empty)" and nothing else when the
// SQL is empty. Carriage returns in SQL are shown as ␍ so that the golden
// files keep plain line endings. A failed split is one line: "error: " and
// the error.
func formatPieces(stmts []Statement, err error) string {
	if err != nil {
		return fmt.Sprintf("error: %v\n", err)
	}
	var b strings.Builder
	for _, st := range stmts {
		sql := "(empty)"
		if st.SQL != "" {
			sql = fmt.Sprintf("%d..%d", st.Start.Offset, st.Start.Offset+len(st.SQL))
		}
		fmt.Fprintf(&b, "--- %d:%d sql=%s text=%d..%d\n", st.Start.Line, st.Start.Column, sql, st.Offset, st.Offset+len(st.Text))
		if st.SQL != "" {
			b.WriteString(strings.ReplaceAll(st.SQL, "\r", "␍"))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// sqls returns the SQL of each piece, leaving out empty statements.
func sqls(stmts []Statement) []string {
	var out []string
	for _, st := range stmts {
		if st.SQL != "" {
			out = append(out, st.SQL)
		}
	}
	return out
}

// TestSplitStatements covers lexing details that decide where a statement
// ends, by the statements (non-empty SQL) they produce.
func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty input", "", nil},
		{"whitespace only", " \n\t", nil},
		{"one statement", "SELECT 1", []string{"SELECT 1"}},
		{"semicolon in plain string", "SELECT 'a;b'; SELECT 2;", []string{"SELECT 'a;b';", "SELECT 2;"}},
		{"backslash is ordinary in plain string", `SELECT 'a\'; SELECT 2;`, []string{`SELECT 'a\';`, "SELECT 2;"}},
		{"backslash quote in E string", `SELECT E'a\'; b'; SELECT 2;`, []string{`SELECT E'a\'; b';`, "SELECT 2;"}},
		{"escaped backslash ends E string", `SELECT E'a\\'; SELECT 2;`, []string{`SELECT E'a\\';`, "SELECT 2;"}},
		{"lower-case e string", `SELECT e'\';'; SELECT 2;`, []string{`SELECT e'\';';`, "SELECT 2;"}},
		{"identifier ending in e is not an E string", `SELECT somee'\'; SELECT 2;`, []string{`SELECT somee'\';`, "SELECT 2;"}},
		{"number junk ending in e is not an E string", `SELECT 1e'\'; SELECT 2;`, []string{`SELECT 1e'\';`, "SELECT 2;"}},
		{"numeric junk after a dot is not an E string", `SELECT 1.e'\'; SELECT 2;`, []string{`SELECT 1.e'\';`, "SELECT 2;"}},
		{"E after a decimal with two dots is an E string", `SELECT 1.5.e'\';'; SELECT 2;`, []string{`SELECT 1.5.e'\';';`, "SELECT 2;"}},
		{"E after dot dot is an E string", `SELECT 1..e'\';'; SELECT 2;`, []string{`SELECT 1..e'\';';`, "SELECT 2;"}},
		{"number after dot dot takes its junk", `SELECT ..5.e'\'; SELECT 2;`, []string{`SELECT ..5.e'\';`, "SELECT 2;"}},
		{"comment right after a number", "SELECT 1e--x;\nSELECT 2;", []string{"SELECT 1e--x;\nSELECT 2;"}},
		{"comment right after an exponent sign", "SELECT 1e+--x;\nSELECT 2;", []string{"SELECT 1e+--x;\nSELECT 2;"}},
		{"signed exponent then dollar quote", "SELECT 1e+5$$;$$; SELECT 2;", []string{"SELECT 1e+5$$;$$;", "SELECT 2;"}},
		{"exponent junk absorbs dollars", "SELECT 1e5$$; SELECT 2;", []string{"SELECT 1e5$$;", "SELECT 2;"}},
		{"E after parameter junk is not an E string", `SELECT $1e'\'; SELECT 2;`, []string{`SELECT $1e'\';`, "SELECT 2;"}},
		{"E after lone dollar is an E string", `SELECT $e'\';'; SELECT 2;`, []string{`SELECT $e'\';';`, "SELECT 2;"}},
		{"E string continued on next line", "SELECT E'a'\n'\\'; still';\nSELECT 2;", []string{"SELECT E'a'\n'\\'; still';", "SELECT 2;"}},
		{"E string continued after comments", "SELECT E'a' -- c'\n -- d\n\r\n'\\'; still';\nSELECT 2;", []string{"SELECT E'a' -- c'\n -- d\n\r\n'\\'; still';", "SELECT 2;"}},
		{"no continuation without newline", `SELECT E'a' '\'; SELECT 2;`, []string{`SELECT E'a' '\';`, "SELECT 2;"}},
		{"no continuation after comment at end of input", "SELECT E'a'\n--", []string{"SELECT E'a'"}},
		{"doubled quotes", "SELECT 'a'';'''; SELECT 2;", []string{"SELECT 'a'';''';", "SELECT 2;"}},
		{"quoted identifier", `SELECT "a"";" FROM t; SELECT 2;`, []string{`SELECT "a"";" FROM t;`, "SELECT 2;"}},
		{"empty dollar tag", "SELECT $$;$$; SELECT 2;", []string{"SELECT $$;$$;", "SELECT 2;"}},
		{"dollar tags are case-sensitive", "SELECT $a$;$A$;$a$; SELECT 2;", []string{"SELECT $a$;$A$;$a$;", "SELECT 2;"}},
		{"dollar tag cannot contain dollar", "SELECT $a$b$ ; $a$; SELECT 2;", []string{"SELECT $a$b$ ; $a$;", "SELECT 2;"}},
		{"closing tag may follow text", "SELECT $a$x$a$; SELECT 2;", []string{"SELECT $a$x$a$;", "SELECT 2;"}},
		{"closing tag may overlap a failed one", "SELECT $a$ $b$a$; SELECT 2;", []string{"SELECT $a$ $b$a$;", "SELECT 2;"}},
		{"dollar inside identifier", "SELECT a$b$; SELECT $b$;$b$;", []string{"SELECT a$b$;", "SELECT $b$;$b$;"}},
		{"digit cannot start a tag", "SELECT $1$; SELECT 2;", []string{"SELECT $1$;", "SELECT 2;"}},
		{"parameter then dollar quote", "SELECT $1$$;$$; SELECT 2;", []string{"SELECT $1$$;$$;", "SELECT 2;"}},
		{"parameter junk absorbs dollars", "SELECT $1a$$; SELECT 2;", []string{"SELECT $1a$$;", "SELECT 2;"}},
		{"number then dollar quote", "SELECT 1$$;$$; SELECT 2;", []string{"SELECT 1$$;$$;", "SELECT 2;"}},
		{"number junk absorbs dollars", "SELECT 1a$$; SELECT 2;", []string{"SELECT 1a$$;", "SELECT 2;"}},
		{"hex number absorbs dollars", "SELECT 0x1F$$; SELECT 2;", []string{"SELECT 0x1F$$;", "SELECT 2;"}},
		{"lone dollar", "SELECT $ ; SELECT $x;", []string{"SELECT $ ;", "SELECT $x;"}},
		{"high bytes in tag", "SELECT $日本$;$日本$; SELECT 2;", []string{"SELECT $日本$;$日本$;", "SELECT 2;"}},
		{"nested block comment", "SELECT /* a /* ; */ ; */ 1; SELECT 2;", []string{"SELECT /* a /* ; */ ; */ 1;", "SELECT 2;"}},
		{"slash star slash does not close", "SELECT /*/ ; */ 1; SELECT 2;", []string{"SELECT /*/ ; */ 1;", "SELECT 2;"}},
		{"comment after operator", "SELECT 1 +/* ; */ 2; SELECT 3;", []string{"SELECT 1 +/* ; */ 2;", "SELECT 3;"}},
		{"line comment after operator", "SELECT 1 +-- ;\n 2; SELECT 3;", []string{"SELECT 1 +-- ;\n 2;", "SELECT 3;"}},
		{"carriage return ends line comment", "SELECT 1 -- x\r; SELECT 2;", []string{"SELECT 1 -- x\r;", "SELECT 2;"}},
		{"trailing comments are not SQL", "SELECT 1 -- a\n/* b */ ", []string{"SELECT 1"}},
		{"semicolon in parentheses", "SELECT (1;2); SELECT 3;", []string{"SELECT (1;2);", "SELECT 3;"}},
		{"depth never negative", "SELECT 1)); SELECT (2;", []string{"SELECT 1));", "SELECT (2;"}},
		{"transaction BEGIN splits", "BEGIN; SELECT 1; END;", []string{"BEGIN;", "SELECT 1;", "END;"}},
		{"BEGIN ATOMIC function", "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3;",
			[]string{"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;", "SELECT 3;"}},
		{"mixed-case keywords", "Create Or Replace Procedure p() Begin Atomic select 1; End; SELECT 3;",
			[]string{"Create Or Replace Procedure p() Begin Atomic select 1; End;", "SELECT 3;"}},
		{"CASE inside block", "CREATE FUNCTION f() BEGIN ATOMIC SELECT CASE WHEN x THEN 1 END; SELECT 2; END; SELECT 3;",
			[]string{"CREATE FUNCTION f() BEGIN ATOMIC SELECT CASE WHEN x THEN 1 END; SELECT 2; END;", "SELECT 3;"}},
		{"CASE outside block", "CREATE FUNCTION f() RETURN CASE WHEN x THEN 1 END; SELECT 3;",
			[]string{"CREATE FUNCTION f() RETURN CASE WHEN x THEN 1 END;", "SELECT 3;"}},
		{"words in parentheses do not count", "CREATE FUNCTION f(begin int) RETURNS int RETURN 1; SELECT 3;",
			[]string{"CREATE FUNCTION f(begin int) RETURNS int RETURN 1;", "SELECT 3;"}},
		{"quoted words do not count", `CREATE FUNCTION "begin"() RETURN 'begin'; SELECT 3;`,
			[]string{`CREATE FUNCTION "begin"() RETURN 'begin';`, "SELECT 3;"}},
		{"words in comments do not count", "CREATE FUNCTION f() /* begin */ -- begin\n RETURN 1; SELECT 3;",
			[]string{"CREATE FUNCTION f() /* begin */ -- begin\n RETURN 1;", "SELECT 3;"}},
		{"comment before CREATE", "/* c */ CREATE FUNCTION f() BEGIN ATOMIC SELECT 1; END; SELECT 3;",
			[]string{"CREATE FUNCTION f() BEGIN ATOMIC SELECT 1; END;", "SELECT 3;"}},
		{"other CREATE statements split", "CREATE TABLE begin (x int); CREATE OR REPLACE VIEW v AS SELECT 1 AS begin; SELECT 3;",
			[]string{"CREATE TABLE begin (x int);", "CREATE OR REPLACE VIEW v AS SELECT 1 AS begin;", "SELECT 3;"}},
		{"CREATE OR without REPLACE", "CREATE OR FUNCTION BEGIN; SELECT 3;", []string{"CREATE OR FUNCTION BEGIN;", "SELECT 3;"}},
		{"identifiers containing keywords", "CREATE FUNCTION f() BEGIN ATOMIC SELECT end_date, begin$; END; SELECT 3;",
			[]string{"CREATE FUNCTION f() BEGIN ATOMIC SELECT end_date, begin$; END;", "SELECT 3;"}},
		{"only ASCII letters fold", "CREATE FUNCTION f() BEGIN ATOMIC SELECT ca\u017fe; END; SELECT 3;",
			[]string{"CREATE FUNCTION f() BEGIN ATOMIC SELECT ca\u017fe; END;", "SELECT 3;"}},
		{"unclosed BEGIN ATOMIC runs to the end", "CREATE PROCEDURE p() BEGIN ATOMIC SELECT 1; SELECT 2;",
			[]string{"CREATE PROCEDURE p() BEGIN ATOMIC SELECT 1; SELECT 2;"}},
		{"state resets between statements", "CREATE FUNCTION f() RETURN 1; BEGIN; SELECT 2;",
			[]string{"CREATE FUNCTION f() RETURN 1;", "BEGIN;", "SELECT 2;"}},
		{"invalid UTF-8", "SELECT '\xff;'; SELECT \xc3; SELECT 2", []string{"SELECT '\xff;';", "SELECT \xc3;", "SELECT 2"}},
		{"NUL byte", "SELECT \x00; SELECT 2;", []string{"SELECT \x00;", "SELECT 2;"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stmts, err := Split(tt.in)
			if err != nil {
				t.Fatalf("Split(%q) error: %v", tt.in, err)
			}
			checkSplit(t, tt.in, stmts, nil)
			if diff := cmp.Diff(tt.want, sqls(stmts)); diff != "" {
				t.Errorf("Split(%q) statements mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestSplitPieces checks every field of the pieces for inputs whose
// leading and trailing trivia matter.
func TestSplitPieces(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Statement
	}{
		{
			name: "trivia attaches to the next statement",
			in:   "SELECT 1; -- one\n\tSELECT 2;",
			want: []Statement{
				{Text: "SELECT 1;", Offset: 0, SQL: "SELECT 1;", Start: Pos{0, 1, 1}},
				{Text: " -- one\n\tSELECT 2;", Offset: 9, SQL: "SELECT 2;", Start: Pos{18, 2, 2}},
			},
		},
		{
			name: "trailing trivia is its own piece",
			in:   "SELECT 1;\n-- bye",
			want: []Statement{
				{Text: "SELECT 1;", Offset: 0, SQL: "SELECT 1;", Start: Pos{0, 1, 1}},
				{Text: "\n-- bye", Offset: 9, SQL: "", Start: Pos{16, 2, 7}},
			},
		},
		{
			name: "lone semicolons",
			in:   " ;;x",
			want: []Statement{
				{Text: " ;", Offset: 0, SQL: "", Start: Pos{1, 1, 2}},
				{Text: ";", Offset: 2, SQL: "", Start: Pos{2, 1, 3}},
				{Text: "x", Offset: 3, SQL: "x", Start: Pos{3, 1, 4}},
			},
		},
		{
			name: "no final semicolon",
			in:   "/* a */ SELECT 1 /* b */ + 2 -- c\n\n",
			want: []Statement{
				{Text: "/* a */ SELECT 1 /* b */ + 2 -- c\n\n", Offset: 0, SQL: "SELECT 1 /* b */ + 2", Start: Pos{8, 1, 9}},
			},
		},
		{
			name: "columns count characters",
			in:   "/* é日🐘 */ SELECT 1;\t\xffSELECT 2;",
			want: []Statement{
				{Text: "/* é日🐘 */ SELECT 1;", Offset: 0, SQL: "SELECT 1;", Start: Pos{16, 1, 11}},
				{Text: "\t\xffSELECT 2;", Offset: 25, SQL: "\xffSELECT 2;", Start: Pos{26, 1, 21}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Split(tt.in)
			if err != nil {
				t.Fatalf("Split(%q) error: %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Split(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestSplitErrors covers every unterminated construct.
func TestSplitErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Error
	}{
		{"quoted string", "SELECT 1;\nSELECT 'abc;\n",
			&Error{Pos: Pos{17, 2, 8}, Msg: "unterminated quoted string"}},
		{"doubled quote at end", "SELECT 'it''",
			&Error{Pos: Pos{7, 1, 8}, Msg: "unterminated quoted string"}},
		{"prefixed string", "SELECT B'101",
			&Error{Pos: Pos{8, 1, 9}, Msg: "unterminated quoted string"}},
		{"continued string reports its start", "SELECT 'a'\n'b",
			&Error{Pos: Pos{7, 1, 8}, Msg: "unterminated quoted string"}},
		{"escape string", "SELECT é, E'it\\'s",
			&Error{Pos: Pos{11, 1, 11}, Msg: "unterminated escape string"}},
		{"escape string ending in backslash", "SELECT e'\\",
			&Error{Pos: Pos{7, 1, 8}, Msg: "unterminated escape string"}},
		{"escape string ending in escaped backslash", "SELECT E'\\\\",
			&Error{Pos: Pos{7, 1, 8}, Msg: "unterminated escape string"}},
		{"quoted identifier", "SELECT 1 AS \"a\"\"b",
			&Error{Pos: Pos{12, 1, 13}, Msg: "unterminated quoted identifier"}},
		{"dollar quote with tag", "SELECT 1;\r\n  DO $fn$ BEGIN END $FN$;",
			&Error{Pos: Pos{16, 2, 6}, Msg: "unterminated dollar-quoted string $fn$"}},
		{"dollar quote without tag", "\tSELECT $$;",
			&Error{Pos: Pos{8, 1, 9}, Msg: "unterminated dollar-quoted string $$"}},
		{"long dollar tag is shortened", "SELECT $" + strings.Repeat("t", 50) + "$",
			&Error{Pos: Pos{7, 1, 8}, Msg: "unterminated dollar-quoted string $" + strings.Repeat("t", 39) + "..."}},
		{"block comment", "SELECT 1; /* no end",
			&Error{Pos: Pos{10, 1, 11}, Msg: "unterminated /* comment"}},
		{"nested block comment", "/* a /* b */ c",
			&Error{Pos: Pos{0, 1, 1}, Msg: "unterminated /* comment"}},
		{"block comment ending in star", "/* a *",
			&Error{Pos: Pos{0, 1, 1}, Msg: "unterminated /* comment"}},
		{"quote after number junk", "SELECT 1e'",
			&Error{Pos: Pos{9, 1, 10}, Msg: "unterminated quoted string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stmts, err := Split(tt.in)
			if stmts != nil {
				t.Errorf("Split(%q) = %d pieces with an error, want nil", tt.in, len(stmts))
			}
			if !errors.Is(err, ErrUnterminated) {
				t.Errorf("Split(%q) error %v does not wrap ErrUnterminated", tt.in, err)
			}
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("Split(%q) error = %v (%T), want *Error", tt.in, err, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Split(%q) error mismatch (-want +got):\n%s", tt.in, diff)
			}
			checkSplit(t, tt.in, nil, err)
		})
	}
}

func TestErrorString(t *testing.T) {
	err := error(&Error{Pos: Pos{3, 2, 5}, Msg: "unterminated quoted string"})
	if got, want := err.Error(), "2:5: unterminated quoted string"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("0001_init.up.sql:%w", err)
	if !errors.Is(wrapped, ErrUnterminated) {
		t.Errorf("errors.Is(%v, ErrUnterminated) = false", wrapped)
	}
}

func TestLocate(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		off       int
		line, col int
	}{
		{"start", "abc", 0, 1, 1},
		{"middle", "abc", 2, 1, 3},
		{"end", "abc", 3, 1, 4},
		{"empty", "", 0, 1, 1},
		{"after newline", "ab\ncd", 3, 2, 1},
		{"at newline", "ab\ncd", 2, 1, 3},
		{"end after newline", "ab\n", 3, 2, 1},
		{"crlf", "a\r\nb", 3, 2, 1},
		{"cr is a column", "a\r\nb", 2, 1, 3},
		{"lone cr is not a line break", "a\rb", 2, 1, 3},
		{"tab", "\tx", 1, 1, 2},
		{"two-byte rune", "é!", 2, 1, 2},
		{"three-byte runes", "x\n日本!", 8, 2, 3},
		{"four-byte rune", "🐘!", 4, 1, 2},
		{"invalid bytes count one each", "\xff\xfe!", 2, 1, 3},
		{"truncated sequence counts per byte", "\xe6\x97!", 2, 1, 3},
		{"negative offset clamps", "abc", -1, 1, 1},
		{"offset past end clamps", "a\nb", 99, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Locate(tt.src, tt.off)
			if got.Line != tt.line || got.Column != tt.col || got.Offset != max(0, min(tt.off, len(tt.src))) {
				t.Errorf("Locate(%q, %d) = %+v, want %d:%d", tt.src, tt.off, got, tt.line, tt.col)
			}
		})
	}
}

func TestCharOffset(t *testing.T) {
	tests := []struct {
		name string
		s    string
		n    int
		want int
	}{
		{"first", "abc", 1, 0},
		{"third", "abc", 3, 2},
		{"one past the end", "abc", 4, 3},
		{"far past the end", "abc", 100, 3},
		{"zero", "abc", 0, 0},
		{"negative", "abc", -5, 0},
		{"empty", "", 1, 0},
		{"after two-byte rune", "é!", 2, 2},
		{"after three-byte runes", "日本!", 3, 6},
		{"after four-byte rune", "🐘!", 2, 4},
		{"invalid bytes count one each", "\xff\xfe!", 3, 2},
		{"truncated sequence counts per byte", "\xe6\x97!", 3, 2},
		{"mixed", "a\tb\né🐘c", 7, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CharOffset(tt.s, tt.n); got != tt.want {
				t.Errorf("CharOffset(%q, %d) = %d, want %d", tt.s, tt.n, got, tt.want)
			}
		})
	}
}

// TestCharOffsetPosition checks that CharOffset inverts Locate's column
// count on a single line.
func TestCharOffsetPosition(t *testing.T) {
	s := "SELECT 'é日🐘\xff', x FROM t"
	for n := 1; n <= 30; n++ {
		off := CharOffset(s, n)
		col := Locate(s, off).Column
		want := min(n, len([]rune(s))+1)
		if col != want {
			t.Errorf("Locate(s, CharOffset(s, %d) = %d) column = %d, want %d", n, off, col, want)
		}
	}
}
