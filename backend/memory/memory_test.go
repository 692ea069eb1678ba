package memory_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/waymarkdb/waymark/backend"
	"github.com/waymarkdb/waymark/backend/backendtest"
	"github.com/waymarkdb/waymark/backend/memory"
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
				return &backend.ScriptError{Offset: i, Statement: strings.Count(sql[:i], ";"), Err: errors.New("fake failure")}
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
