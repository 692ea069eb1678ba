package memory_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/backendtest"
	"github.com/waymarkdb/waymark/backend/memory"
	"github.com/waymarkdb/waymark/internal/sqlsplit"
	"github.com/waymarkdb/waymark/source"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, backendtest.Harness{
		Open: func(t *testing.T) backendtest.Store {
			store := memory.NewStore()
			// A script fails at its statement that contains "fail".
			fail := func(sql string) error {
				i := strings.Index(sql, "fail")
				if i < 0 {
					return nil
				}
				at := sqlsplit.Locate(sql, i)
				pos := source.Position{Line: at.Line, Column: at.Column, Offset: at.Offset, Statement: strings.Count(sql[:i], ";") + 1}
				return &backend.ScriptError{Pos: pos, Err: errors.New("fake failure")}
			}
			return backendtest.Store{
				Backend: func(key string) backend.Backend { return store.Backend(key, &memory.Options{Fail: fail}) },
				Effects: func(*testing.T) int { return strings.Count(strings.Join(store.Committed(), "|"), "first; second") },
			}
		},
		GoodSQL:       "first; second",
		BadSQL:        "first; fail",
		BadSQLOffset:  7,
		GoodStatement: "one",
		BadStatement:  "fail",
	})
}
