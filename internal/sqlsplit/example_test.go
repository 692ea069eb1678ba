package sqlsplit_test

import (
	"errors"
	"fmt"

	"github.com/waymarkdb/waymark/internal/sqlsplit"
)

func ExampleSplit() {
	script := `-- add an index without blocking writes
CREATE INDEX CONCURRENTLY users_email_idx ON users (email);
CREATE FUNCTION one() RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT 1;
END;
`
	stmts, err := sqlsplit.Split(script)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, st := range stmts {
		if st.SQL == "" {
			continue // only whitespace and comments
		}
		fmt.Printf("%d:%d %q\n", st.Start.Line, st.Start.Column, st.SQL)
	}
	// Output:
	// 2:1 "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);"
	// 3:1 "CREATE FUNCTION one() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\nEND;"
}

func ExampleSplit_unterminated() {
	_, err := sqlsplit.Split("SELECT 1;\nSELECT $body$ never closed;\n")
	fmt.Println("0002_bad.up.sql:" + err.Error())
	fmt.Println(errors.Is(err, sqlsplit.ErrUnterminated))
	// Output:
	// 0002_bad.up.sql:2:8: unterminated dollar-quoted string $body$
	// true
}

func ExampleCharOffset() {
	// PostgreSQL reports error positions in characters, counting from 1.
	stmt := "SELECT 'café', nosuchcolumn"
	pos := 16 // as in "column "nosuchcolumn" does not exist", position 16
	off := sqlsplit.CharOffset(stmt, pos)
	fmt.Println(off, stmt[off:])
	// Output:
	// 16 nosuchcolumn
}
