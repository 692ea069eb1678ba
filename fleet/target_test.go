package fleet_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/backend/pgxbackend"
	"github.com/waymarkdb/waymark/fleet"
)

const secret = "hunter2-secret"

func TestParseTargets(t *testing.T) {
	file := `# name   connection string
eu-1	postgres://migrator:` + secret + `@eu-1.internal/app

  us-1    host=us-1.internal dbname=app user=migrator password=` + secret + `
postgres://migrator@ap-1.internal:6432/app?sslmode=disable
host=/run/postgresql dbname=local
`
	targets, err := fleet.ParseTargets(strings.NewReader(file), "targets.txt")
	if err != nil {
		t.Fatal(err)
	}
	type nc struct{ Name, Conn string }
	var got []nc
	for _, tg := range targets {
		got = append(got, nc{tg.Name, tg.Conn})
	}
	want := []nc{
		{"eu-1", "postgres://migrator:" + secret + "@eu-1.internal/app"},
		{"us-1", "host=us-1.internal dbname=app user=migrator password=" + secret},
		{"ap-1.internal:6432/app", "postgres://migrator@ap-1.internal:6432/app?sslmode=disable"},
		{"/run/postgresql:5432/local", "host=/run/postgresql dbname=local"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
}

// Every bad line is reported, with its place, and without its text.
func TestParseTargetsErrors(t *testing.T) {
	file := `eu-1 postgres://u:` + secret + `@h:notaport/d
lonely
eu-1 postgres://h/d
postgres://h/d
postgres://h:5432/d
us-1 host=h password='` + secret + `
`
	_, err := fleet.ParseTargets(strings.NewReader(file), "targets.txt")
	var list fleet.ErrorList
	if !errors.As(err, &list) || !errors.Is(err, fleet.ErrBadTarget) {
		t.Fatalf("error %v, want an ErrorList of ErrBadTarget", err)
	}
	want := []string{
		"targets.txt:1:1: invalid target: invalid connection string: invalid port",
		`targets.txt:2:1: invalid target: target "lonely" has no connection string`,
		`targets.txt:3:1: invalid target: target "eu-1" is already on line 1; name one of them`,
		`targets.txt:5:1: invalid target: target "h:5432/d" is already on line 4; name one of them`,
		"targets.txt:6:1: invalid target: invalid connection string: failed to parse as keyword/value (unterminated quoted string in connection info string)",
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("the error shows a password: %v", err)
	}
}

func TestDatabases(t *testing.T) {
	opts := &pgxbackend.Options{AppKey: "app", SearchPath: []string{"x"}}
	targets, err := fleet.Databases([]string{"postgres://u:" + secret + "@db1.internal/app", "host=db2.internal port=6432 dbname=app"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if targets[0].Name != "db1.internal:5432/app" || targets[1].Name != "db2.internal:6432/app" {
		t.Errorf("names %q, %q", targets[0].Name, targets[1].Name)
	}
	opts.SearchPath[0] = "changed"
	if targets[0].Backend.AppKey != "app" || targets[0].Backend.SearchPath[0] != "x" {
		t.Errorf("backend options %+v: want a copy of the options given", targets[0].Backend)
	}
	_, err = fleet.Databases([]string{"postgres://h/d", "postgres://u:" + secret + "@h:x/d"}, nil)
	if !errors.Is(err, fleet.ErrBadTarget) || err.Error() != "fleet: invalid target: connection string 2: invalid connection string: invalid port" {
		t.Errorf("error = %v", err)
	}
}
