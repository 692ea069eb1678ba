package sqlsplit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzSeeds are hard cases for FuzzSplit, besides the golden inputs.
var fuzzSeeds = []string{
	"",
	";",
	";;",
	"SELECT 1",
	"SELECT $$a;b$$; SELECT $x$ $$ ; $x$;",
	"$a$ $b$ ; $b$ $a$;",
	"SELECT $1, a$b$, $1$$;$$;",
	"SELECT $a$b$ ; $a$;",
	"SELECT $$",
	"SELECT $fn$ unterminated $FN$",
	"SELECT E'\\'';'; SELECT e'\\\\';",
	"SELECT E'a'\n'\\';';",
	"SELECT E'a' -- c\n\n'b';",
	"SELECT 'a'\n--",
	"SELECT E'\\",
	"SELECT somee'\\';",
	"SELECT 1e'\\'; 1.e'x'; 1..e'x'; ..5.e'x'; 0x1F$$;",
	"SELECT 1e+5$$;$$;",
	"/* a /* b */ ; */ SELECT 1;",
	"/* unterminated /* nested */",
	"/*/ ; */;",
	"-- comment ; 'x\nSELECT 1; -- tail",
	"SELECT 'unterminated",
	"SELECT \"unterminated",
	"SELECT \"a\"\";\";",
	"SELECT '\xff\xfe;'; SELECT \xc3\xa9; \x80;",
	"\xe6\x97\xa5\xe6;",
	"SELECT $\xff$;$\xff$;",
	"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3;",
	"create or replace procedure p() begin atomic select case when x then 1 end; end;",
	"CREATE PROCEDURE p() BEGIN ATOMIC SELECT 1;",
	"CREATE FUNCTION f(begin int) RETURN CASE WHEN begin THEN 1 END;",
	"BEGIN; SELECT 1; COMMIT;",
	"CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));",
	"SELECT 1)); SELECT ((2;",
	"SELECT 1;\r\nSELECT 2;\r\n",
	"SELECT 'é'; SELECT '日本'; SELECT '🐘';",
}

// FuzzSplit checks the invariants of checkSplit on arbitrary input.
func FuzzSplit(f *testing.F) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*", "input.sql"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range inputs {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	for _, src := range fuzzSeeds {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		stmts, err := Split(src)
		checkSplit(t, src, stmts, err)
	})
}

// checkSplit checks that stmts and err, returned by Split(src), keep the
// promises of Split and Error.
func checkSplit(t *testing.T, src string, stmts []Statement, err error) {
	t.Helper()
	if err != nil {
		if stmts != nil {
			t.Errorf("Split returned %d pieces and error %v", len(stmts), err)
		}
		if !errors.Is(err, ErrUnterminated) {
			t.Errorf("error %v does not wrap ErrUnterminated", err)
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v (%T) is not an *Error", err, err)
		}
		if e.Pos.Offset < 0 || e.Pos.Offset >= len(src) {
			t.Fatalf("error offset %d outside input of length %d", e.Pos.Offset, len(src))
		}
		if want := Locate(src, e.Pos.Offset); e.Pos != want {
			t.Errorf("error at %+v, but Locate(src, %d) = %+v", e.Pos, e.Pos.Offset, want)
		}
		return
	}

	if src == "" && stmts != nil {
		t.Errorf("Split(\"\") = %d pieces, want nil", len(stmts))
	}
	off := 0
	for k, st := range stmts {
		last := k == len(stmts)-1
		end := st.Offset + len(st.Text)
		if st.Offset != off {
			t.Fatalf("piece %d at offset %d, want %d (pieces must be contiguous)", k, st.Offset, off)
		}
		if st.Text == "" {
			t.Fatalf("piece %d is empty", k)
		}
		if end > len(src) || src[st.Offset:end] != st.Text {
			t.Fatalf("piece %d Text %q is not the input at %d", k, st.Text, st.Offset)
		}
		off = end

		start := st.Start.Offset
		if start < st.Offset || start+len(st.SQL) > end {
			t.Fatalf("piece %d SQL at %d..%d outside its Text at %d..%d", k, start, start+len(st.SQL), st.Offset, end)
		}
		if src[start:start+len(st.SQL)] != st.SQL {
			t.Errorf("piece %d SQL %q is not the input at %d", k, st.SQL, start)
		}
		if want := Locate(src, start); st.Start != want {
			t.Errorf("piece %d at %+v, but Locate(src, %d) = %+v", k, st.Start, start, want)
		}
		if !last && !strings.HasSuffix(st.Text, ";") {
			t.Errorf("piece %d Text %q does not end with ';'", k, st.Text)
		}
		if sql := st.SQL; sql != "" {
			if isSpace(sql[0]) || isSpace(sql[len(sql)-1]) {
				t.Errorf("piece %d SQL %q starts or ends with whitespace", k, sql)
			}
			if strings.HasPrefix(sql, "--") || strings.HasPrefix(sql, "/*") {
				t.Errorf("piece %d SQL %q starts with a comment", k, sql)
			}
			if !last && start+len(sql) != end {
				t.Errorf("piece %d SQL %q does not run to its ';'", k, sql)
			}
		}

		// Nothing splits inside a quote or comment: each piece splits the
		// same way on its own.
		sub, err := Split(st.Text)
		if err != nil {
			t.Errorf("piece %d Text %q alone: %v", k, st.Text, err)
			continue
		}
		if len(sub) != 1 {
			t.Errorf("piece %d Text %q alone splits into %d pieces", k, st.Text, len(sub))
			continue
		}
		if sub[0].SQL != st.SQL || sub[0].Start.Offset != start-st.Offset {
			t.Errorf("piece %d Text %q alone has SQL %q at %d, want %q at %d",
				k, st.Text, sub[0].SQL, sub[0].Start.Offset, st.SQL, start-st.Offset)
		}
	}
	if off != len(src) {
		t.Errorf("pieces cover %d of %d bytes", off, len(src))
	}
}
