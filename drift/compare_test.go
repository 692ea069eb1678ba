package drift_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/drift"
	"github.com/waymarkdb/waymark/schema"
)

// base is a snapshot with a table owned by app, its identity sequence,
// default privileges and an object of another kind.
func base() *schema.Snapshot {
	return &schema.Snapshot{
		Schemas: map[string]schema.Schema{"public": {Name: "public", Owner: "pg_database_owner"}},
		Relations: map[string]schema.Relation{"public.t": {
			Schema: "public", Name: "t", Kind: "table", Owner: "app",
			Privileges: []string{"app=arwdDxt/app"},
			Columns:    []schema.Column{{Name: "id", Type: "bigint"}, {Name: "name", Type: "text"}},
		}},
		Sequences: map[string]schema.Sequence{"public.t_id_seq": {
			Schema: "public", Name: "t_id_seq", Type: "bigint", Owner: "app", OwnedBy: "public.t.id",
			Privileges: []string{"app=rwU/app"},
		}},
		DefaultPrivileges: []schema.DefaultPrivilege{{Role: "app", Schema: "public", ObjectType: "tables", Privileges: []string{"reader=r/app"}}},
		Objects:           []schema.Object{{Type: "collation", Identity: "public.ci"}},
	}
}

func TestCompare(t *testing.T) {
	cases := []struct {
		name   string
		change func(*schema.Snapshot)
		opts   *drift.CompareOptions
		want   []drift.Difference
	}{
		{"nothing", func(*schema.Snapshot) {}, nil, nil},
		{"owner changed: the table's owner, not its moved privileges nor its sequence's", func(s *schema.Snapshot) {
			r := s.Relations["public.t"]
			r.Owner, r.Privileges = "other", []string{"other=arwdDxt/other"}
			s.Relations["public.t"] = r
			q := s.Sequences["public.t_id_seq"]
			q.Owner, q.Privileges = "other", []string{"other=rwU/other"}
			s.Sequences["public.t_id_seq"] = q
		}, nil, []drift.Difference{{Kind: "table", Name: "public.t", Change: drift.Differs, Aspect: "owner", Expected: "app", Live: "other"}}},
		{"a sequence's own owner changed", func(s *schema.Snapshot) {
			q := s.Sequences["public.t_id_seq"]
			q.Owner = "other"
			s.Sequences["public.t_id_seq"] = q
		}, nil, []drift.Difference{{Kind: "sequence", Name: "public.t_id_seq", Change: drift.Differs, Aspect: "owner", Expected: "app", Live: "other"}}},
		{"owners off", func(s *schema.Snapshot) {
			r := s.Relations["public.t"]
			r.Owner = "other"
			s.Relations["public.t"] = r
		}, &drift.CompareOptions{IgnoreOwners: true}, nil},
		{"columns reordered", func(s *schema.Snapshot) {
			r := s.Relations["public.t"]
			r.Columns = []schema.Column{{Name: "name", Type: "text"}, {Name: "id", Type: "bigint"}}
			s.Relations["public.t"] = r
		}, nil, []drift.Difference{{Kind: "table", Name: "public.t", Change: drift.Differs, Aspect: "column order", Expected: "id, name", Live: "name, id"}}},
		{"default privileges dropped, and ignored when privileges are off", func(s *schema.Snapshot) {
			s.DefaultPrivileges = nil
		}, nil, []drift.Difference{{Kind: "default privileges", Name: "app in schema public on tables", Change: drift.Missing, Expected: "reader=r/app"}}},
		{"privileges off", func(s *schema.Snapshot) {
			s.DefaultPrivileges = nil
			r := s.Relations["public.t"]
			r.Privileges = append(r.Privileges, "reader=r/app")
			s.Relations["public.t"] = r
		}, &drift.CompareOptions{IgnorePrivileges: true}, nil},
		{"an object of another kind added", func(s *schema.Snapshot) {
			s.Objects = append(s.Objects, schema.Object{Type: "cast", Identity: "(text AS public.email)"})
		}, nil, []drift.Difference{{Kind: "cast", Name: "(text AS public.email)", Change: drift.Extra}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			live := base()
			tc.change(live)
			got := drift.Compare(base(), live, tc.opts)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Compare (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDifferenceString(t *testing.T) {
	d := drift.Difference{Kind: "function", Name: "public.f()", Change: drift.Differs, Aspect: "definition",
		Expected: "CREATE FUNCTION public.f()\n AS 1", Live: "", Version: 7}
	want := "differs function public.f() definition: expected CREATE FUNCTION public.f() ..., live (none) (version 7)"
	if got := d.String(); got != want {
		t.Errorf("String() = %q\nwant       %q", got, want)
	}
}
