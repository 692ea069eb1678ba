package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/waymarkdb/waymark/internal/pgtest"
)

// fleetSchemas creates the schemas tenant_01 ... tenant_n, and one that
// the pattern does not match, in the database of DATABASE_URL.
func (c *cli) fleetSchemas(n int) {
	c.t.Helper()
	pool := c.pool()
	for i := 1; i <= n; i++ {
		if _, err := pool.Exec(context.Background(), fmt.Sprintf("CREATE SCHEMA tenant_%02d", i)); err != nil {
			c.t.Fatal(err)
		}
	}
	if _, err := pool.Exec(context.Background(), "CREATE SCHEMA tenantx"); err != nil {
		c.t.Fatal(err)
	}
}

// versionsIn returns the versions recorded in schema's history.
func (c *cli) versionsIn(schema string) string {
	c.t.Helper()
	var vs string
	err := c.pool().QueryRow(context.Background(), "SELECT coalesce(string_agg(version::text, ',' ORDER BY version), '') FROM "+
		pgx.Identifier{schema, "waymark_history"}.Sanitize()).Scan(&vs)
	if err != nil && strings.Contains(err.Error(), "42P01") {
		return ""
	}
	if err != nil {
		c.t.Fatal(err)
	}
	return vs
}

func TestFleetSchemas(t *testing.T) {
	c := newCLI(t, "sample")
	c.fleetSchemas(5)
	pattern := `tenant\_%`

	r := c.run("fleet", "status", "-schemas", pattern)
	want(t, r, 0)
	contains(t, "fleet status", r.stdout, "tenant_01  0        4        behind", "fleet status: 5 targets, files up to 4: 0 up to date, 5 behind")
	if strings.Contains(r.stdout, "tenantx") {
		t.Errorf("fleet status lists a schema the pattern does not match:\n%v", r)
	}
	want(t, c.run("fleet", "status", "-schemas", pattern, "-detailed-exitcode"), 4)

	r = c.run("fleet", "plan", "-schemas", pattern, "-to", "2")
	want(t, r, 0)
	contains(t, "fleet plan", r.stdout, "5 targets at 0: up to 2, apply 1, 2\n  tenant_01, tenant_02, tenant_03, tenant_04, tenant_05\n  plan: up from 0 to 2 (2 steps)")

	r = c.run("fleet", "apply", "-schemas", pattern, "-parallel", "2", "-canary", "tenant_03", "-to", "2")
	want(t, r, 0)
	contains(t, "fleet apply -to 2", r.stdout, "tenant_03 (canary)  applied  0     2   2", "fleet: 5 targets, up to 2: 5 applied, 0 no-op, 0 failed")

	r = c.run("fleet", "apply", "-schemas", pattern, "-json", "-detailed-exitcode")
	want(t, r, 4)
	var doc struct {
		Format  string `json:"format"`
		Applied int    `json:"applied"`
		Results []struct {
			Target  string `json:"target"`
			Outcome string `json:"outcome"`
			From    int64  `json:"from"`
			To      int64  `json:"to"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Format != "waymark.fleet/v1" || doc.Applied != 5 || len(doc.Results) != 5 ||
		doc.Results[4].Target != "tenant_05" || doc.Results[4].From != 2 || doc.Results[4].To != 4 {
		t.Errorf("fleet apply -json: %+v, %v\n%v", doc, err, r)
	}
	for i := 1; i <= 5; i++ {
		if got := c.versionsIn(fmt.Sprintf("tenant_%02d", i)); got != "1,2,3,4" {
			t.Errorf("tenant_%02d: history %q", i, got)
		}
	}
	if got := c.versionsIn("tenantx") + c.versionsIn("public"); got != "" {
		t.Errorf("schemas outside the pattern have a history: %q", got)
	}

	r = c.run("fleet", "apply", "-schemas", pattern, "-detailed-exitcode")
	want(t, r, 0)
	contains(t, "fleet apply, again", r.stdout, "0 applied, 5 no-op, 0 failed")
}

// A targets file of databases, one of which cannot be reached: the others
// are applied with -continue, the exit code says one failed, and no
// output shows a password.
func TestFleetTargetsFile(t *testing.T) {
	const secret = "hunter2-secret"
	c := newCLI(t, "sample")
	one, two := pgtest.ConnString(t), pgtest.ConnString(t)
	gone := strings.Replace(two, "dbname=", "dbname=no_such_", 1)
	if gone == two {
		gone = two + "_no_such"
	}
	withPassword := func(conn string) string {
		if !strings.Contains(conn, "://") {
			return conn + " password=" + secret
		}
		if strings.Contains(conn, "?") {
			return conn + "&password=" + secret
		}
		return conn + "?password=" + secret
	}
	c.write("targets.txt", fmt.Sprintf("# the fleet\neu-1  %s\nus-1\t%s\ngone  %s\n", withPassword(one), two, withPassword(gone)))
	c.env = nil // no DATABASE_URL

	r := c.run("fleet", "plan", "-targets", "targets.txt")
	want(t, r, 1)
	contains(t, "fleet plan", r.stdout, "2 targets at 0: up to 4, apply 1, 2, 3, 4\n  eu-1, us-1", "1 target unreadable\n  gone\n")
	r2 := c.run("fleet", "apply", "-targets", "targets.txt", "-continue", "-parallel", "1")
	want(t, r2, 1)
	contains(t, "fleet apply", r2.stdout, "eu-1    applied  0     4   4", "us-1    applied  0     4   4", "gone    failed   -     -   0", "gone: connect: failed to connect to")
	contains(t, "fleet apply", r2.stderr, "waymark fleet: 1 of 3 targets failed, 0 not started")
	r3 := c.run("fleet", "apply", "-targets", "targets.txt", "-json")
	want(t, r3, 1)
	for _, r := range []result{r, r2, r3} {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("the output shows a password:\n%v", r)
		}
	}

	c.write("bad.txt", "eu-1 "+one+"\nus-1 postgres://u:"+secret+"@h:notaport/d\n")
	r = c.run("fleet", "status", "-targets", "bad.txt")
	want(t, r, 2)
	contains(t, "bad targets file", r.stderr, "bad.txt:2:1: invalid target: invalid connection string: invalid port")
	if strings.Contains(r.stderr, secret) {
		t.Errorf("the output shows a password:\n%v", r)
	}
}

func TestFleetUsage(t *testing.T) {
	c := newCLI(t, "sample")
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"fleet"}, "fleet takes one argument, status, plan, apply or drift"},
		{[]string{"fleet", "rollout"}, "fleet takes one argument"},
		{[]string{"fleet", "status", "-canary", "a"}, "-canary and -continue are for fleet apply"},
		{[]string{"fleet", "status", "-to", "1"}, "-to and -down-to are for fleet plan and apply"},
		{[]string{"fleet", "plan", "-schemas", "t%", "-schema", "s"}, "-schema cannot be combined with -schemas"},
		{[]string{"fleet", "apply", "-parallel", "0"}, "-parallel 0: want 1 or more"},
		{[]string{"fleet", "apply", "-canary", "nobody"}, `canary "nobody" is not one of the targets`},
	} {
		r := c.run(tt.args...)
		want(t, r, 2)
		contains(t, strings.Join(tt.args, " "), r.stderr, tt.msg)
	}
	r := c.run("fleet", "status", "-schemas", "nothing%")
	want(t, r, 2)
	contains(t, "no schema", r.stderr, `-schemas 'nothing%' matches no schema in 1 database: check the pattern`)
	c.fleetSchemas(1)
	r = c.run("fleet", "status", "-schemas", `tenant\`)
	want(t, r, 2)
	contains(t, "bad pattern", r.stderr, `-schemas: fleet: invalid schema pattern: 'tenant\': a LIKE pattern must not end with its escape character`)
	if strings.Contains(r.stderr, "cannot read") {
		t.Errorf("a bad pattern reads as a read failure:\n%v", r)
	}
	r = c.run("help", "fleet")
	want(t, r, 0)
	contains(t, "help fleet", r.stdout, "Usage: waymark fleet [flags] status|plan|apply", "-targets", "-schemas", "-parallel", "-canary", "-continue")
}
