package sqlstmt

import "testing"

func TestNoTransaction(t *testing.T) {
	tests := []struct {
		stmt string
		want string // "" for a statement that may run in a transaction
	}{
		{"CREATE INDEX CONCURRENTLY i ON t (x);", "CREATE INDEX CONCURRENTLY"},
		{"create unique index concurrently if not exists i on t (x)", "CREATE INDEX CONCURRENTLY"},
		{"/* c */ CREATE\n INDEX -- x\n CONCURRENTLY i ON t (x)", "CREATE INDEX CONCURRENTLY"},
		{"CREATE INDEX i ON t (x);", ""},
		{`CREATE INDEX "concurrently" ON t (x);`, ""},
		{"DROP INDEX CONCURRENTLY IF EXISTS i;", "DROP INDEX CONCURRENTLY"},
		{"DROP INDEX i;", ""},
		{"REINDEX INDEX CONCURRENTLY i;", "REINDEX CONCURRENTLY"},
		{"REINDEX TABLE CONCURRENTLY t;", "REINDEX CONCURRENTLY"},
		{"REINDEX (CONCURRENTLY) TABLE t;", "REINDEX (CONCURRENTLY)"},
		{"REINDEX (VERBOSE, CONCURRENTLY true) INDEX i;", "REINDEX (CONCURRENTLY)"},
		{"REINDEX (CONCURRENTLY false) TABLE t;", ""},
		{"REINDEX TABLE t;", ""},
		{"REINDEX SCHEMA app;", "REINDEX SCHEMA"},
		{"REINDEX DATABASE db;", "REINDEX DATABASE"},
		{"VACUUM;", "VACUUM"},
		{"VACUUM (ANALYZE) t;", "VACUUM"},
		{"vacuum full t", "VACUUM"},
		{"ANALYZE t;", ""},
		{"CREATE DATABASE d;", "CREATE DATABASE"},
		{"DROP DATABASE d;", "DROP DATABASE"},
		{"ALTER DATABASE d SET TABLESPACE ts;", "ALTER DATABASE ... SET TABLESPACE"},
		{"ALTER DATABASE d SET work_mem = '1MB';", ""},
		{"CREATE TABLESPACE ts LOCATION '/x';", "CREATE TABLESPACE"},
		{"ALTER SYSTEM SET work_mem = '1MB';", "ALTER SYSTEM"},
		{"CLUSTER;", "CLUSTER without a table"},
		{"CLUSTER VERBOSE", "CLUSTER without a table"},
		{"CLUSTER t USING i;", ""},
		{"ALTER TABLE p DETACH PARTITION c CONCURRENTLY;", "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY"},
		{"ALTER TABLE p DETACH PARTITION c;", ""},
		{"DISCARD ALL;", "DISCARD ALL"},
		{"DISCARD TEMP;", ""},
		{"SELECT 'VACUUM';", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, ok := NoTransaction(tt.stmt)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("NoTransaction(%q) = %q, %v; want %q", tt.stmt, got, ok, tt.want)
		}
	}
}

func TestBuildsIndexConcurrently(t *testing.T) {
	tests := []struct {
		stmt string
		want IndexBuild
		ok   bool
	}{
		{"CREATE INDEX CONCURRENTLY i ON t (x);", IndexBuild{Index: "i", Table: "t"}, true},
		{`CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS app."My Index" ON ONLY app."T" (x)`, IndexBuild{Index: `app."My Index"`, Table: `app."T"`}, true},
		{"CREATE INDEX CONCURRENTLY ON t (x);", IndexBuild{Table: "t"}, true},
		{"CREATE INDEX CONCURRENTLY IF NOT EXISTS ON t (x);", IndexBuild{Table: "t"}, true},
		{"REINDEX INDEX CONCURRENTLY s.i;", IndexBuild{Index: "s.i"}, true},
		{"REINDEX (CONCURRENTLY) TABLE t;", IndexBuild{Table: "t"}, true},
		{"REINDEX TABLE t;", IndexBuild{}, false},
		{"CREATE INDEX i ON t (x);", IndexBuild{}, false},
		{"DROP INDEX CONCURRENTLY i;", IndexBuild{}, false},
		{"REINDEX SCHEMA CONCURRENTLY s;", IndexBuild{}, false},
	}
	for _, tt := range tests {
		got, ok := BuildsIndexConcurrently(tt.stmt)
		if got != tt.want || ok != tt.ok {
			t.Errorf("BuildsIndexConcurrently(%q) = %+v, %v; want %+v, %v", tt.stmt, got, ok, tt.want, tt.ok)
		}
	}
}
