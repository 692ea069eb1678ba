package plan_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waymarkdb/waymark/internal/testsets"
	"github.com/waymarkdb/waymark/plan"
	"github.com/waymarkdb/waymark/plan/plantest"
	"github.com/waymarkdb/waymark/source"
)

func TestReview(t *testing.T) {
	set := testsets.Map(t, map[string]string{
		"v1_users.up.sql":   "CREATE TABLE users (id int, title text CHECK (title <> ''));\n",
		"v2.up.sql":         "-- waymark:no-transaction\r\nCREATE INDEX CONCURRENTLY a ON users (id);\r\nCREATE INDEX CONCURRENTLY b ON users (title);",
		"v3_empty.up.sql":   "SELECT 1;\n",
		"v3_empty.down.sql": "",
	})
	p, err := plan.Compute(set, plantest.Applied(set, 1), plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := func(v int64) string { m, _ := set.Lookup(v); return m.Up.Checksum.Short() }
	want := "plan: up from 1 to 3 (2 steps)\n" +
		"  up  2  -      m/v2.up.sql        no-transaction  sha256:" + sum(2) + "\n" +
		"  up  3  empty  m/v3_empty.up.sql  transaction     sha256:" + sum(3) + "\n" +
		"made from: version 1 applied\n" +
		"\n" +
		"step 1 of 2: up 2 -, NO TRANSACTION: 2 statements, run one by one; a failure leaves version 2 dirty\n" +
		"m/v2.up.sql  sha256:" + sum(2) + "\n" +
		"  1 | -- waymark:no-transaction\n" +
		"  2 | CREATE INDEX CONCURRENTLY a ON users (id);\n" +
		"  3 | CREATE INDEX CONCURRENTLY b ON users (title);\n" +
		"\n" +
		"step 2 of 2: up 3 empty, in a transaction\n" +
		"m/v3_empty.up.sql  sha256:" + sum(3) + "\n" +
		"  1 | SELECT 1;\n"
	if diff := cmp.Diff(want, p.Review()); diff != "" {
		t.Errorf("Review (-want +got):\n%s", diff)
	}

	down, err := plan.Compute(set, plantest.Applied(set, 1, 2, 3), plan.DownTo(2), nil)
	if err != nil {
		t.Fatal(err)
	}
	want = "plan: down from 3 to 2 (1 step)\n" +
		"  down  3  empty  m/v3_empty.down.sql  transaction  sha256:" + source.ChecksumOf("").Short() + "\n" +
		"made from: versions 1, 2, 3 applied\n" +
		"\n" +
		"step 1 of 1: down 3 empty, in a transaction\n" +
		"m/v3_empty.down.sql  sha256:" + source.ChecksumOf("").Short() + "\n" +
		"  1 | \n"
	if diff := cmp.Diff(want, down.Review()); diff != "" {
		t.Errorf("Review of a down plan (-want +got):\n%s", diff)
	}
}

func TestReviewLineNumbersAlign(t *testing.T) {
	sql := strings.Repeat("SELECT 1;\n", 12)
	set := testsets.Map(t, map[string]string{"v1.up.sql": sql})
	p, err := plan.Compute(set, plan.State{}, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := p.Review()
	for _, line := range []string{"   1 | SELECT 1;\n", "   9 | SELECT 1;\n", "  12 | SELECT 1;\n"} {
		if !strings.Contains(got, line) {
			t.Errorf("Review lacks %q:\n%s", line, got)
		}
	}
	if strings.Contains(got, "13 |") {
		t.Errorf("Review numbers a line after the last:\n%s", got)
	}
}

// sample is a plan with SQL that HTML escaping would mangle.
func sample(t *testing.T) (*source.Set, *plan.Plan) {
	t.Helper()
	set := testsets.Map(t, map[string]string{
		"v1_a.up.sql":   "CREATE TABLE a (title text CHECK (title <> '' AND title !~ '&'));\n",
		"v1_a.down.sql": "DROP TABLE a;\n",
		"v2_b.up.sql":   "-- waymark:no-transaction\nCREATE INDEX CONCURRENTLY b ON a (title);\n",
	})
	p, err := plan.Compute(set, plan.State{}, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return set, p
}

var key = []byte("0123456789abcdef-test-key")

func TestSaveLoad(t *testing.T) {
	_, p := sample(t)
	for _, k := range [][]byte{nil, key} {
		var buf bytes.Buffer
		if err := plan.Save(&buf, p, &plan.SaveOptions{Key: k}); err != nil {
			t.Fatal(err)
		}
		text := buf.String()
		if !strings.Contains(text, `title <> '' AND title !~ '&'`) || strings.Contains(text, `\u003c`) {
			t.Errorf("Save escaped the SQL:\n%s", text)
		}
		if !strings.Contains(text, `"format": "waymark.plan/v3"`) {
			t.Errorf("Save did not write format v2:\n%s", text)
		}
		if signed := strings.Contains(text, `"signature": "hmac-sha256:`); signed != (k != nil) {
			t.Errorf("key %q: signature written = %v:\n%s", k, signed, text)
		}
		back, err := plan.Load(strings.NewReader(text), &plan.LoadOptions{Key: k})
		if err != nil {
			t.Fatalf("Load: %v\n%s", err, text)
		}
		if diff := cmp.Diff(p, back); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		// json.Unmarshal reads a saved plan too, signed or not.
		var q plan.Plan
		if err := json.Unmarshal(buf.Bytes(), &q); err != nil {
			t.Errorf("json.Unmarshal of a saved plan: %v", err)
		}
	}
}

func TestMarshalJSONDoesNotEscape(t *testing.T) {
	_, p := sample(t)
	data, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`<> ''`)) {
		t.Errorf("MarshalJSON escaped the SQL: %s", data)
	}
}

// TestLoadV1 reads a plan in the first format, as an older release wrote it.
func TestLoadV1(t *testing.T) {
	_, p := sample(t)
	var buf bytes.Buffer
	if err := plan.Save(&buf, p, nil); err != nil {
		t.Fatal(err)
	}
	v1 := strings.Replace(buf.String(), `"waymark.plan/v3"`, `"waymark.plan/v1"`, 1)
	back, err := plan.Load(strings.NewReader(v1), nil)
	if err != nil {
		t.Fatalf("Load v1: %v", err)
	}
	if diff := cmp.Diff(p, back); diff != "" {
		t.Errorf("v1 (-want +got):\n%s", diff)
	}
	if _, err := plan.Load(strings.NewReader(v1), &plan.LoadOptions{Key: key}); !errors.Is(err, plan.ErrSignature) {
		t.Errorf("Load v1 with a key = %v, want ErrSignature", err)
	}
	var signed bytes.Buffer
	if err := plan.Save(&signed, p, &plan.SaveOptions{Key: key}); err != nil {
		t.Fatal(err)
	}
	v1signed := strings.Replace(signed.String(), `"waymark.plan/v3"`, `"waymark.plan/v1"`, 1)
	if _, err := plan.Load(strings.NewReader(v1signed), nil); err == nil || !strings.Contains(err.Error(), "no signature field") {
		t.Errorf("Load of a v1 plan with a signature = %v, want a format error", err)
	}
}

func TestLoadRefusesEditedSignedPlans(t *testing.T) {
	_, p := sample(t)
	var buf bytes.Buffer
	if err := plan.Save(&buf, p, &plan.SaveOptions{Key: key}); err != nil {
		t.Fatal(err)
	}
	good := buf.String()

	// An attacker edits the SQL and recomputes the checksum: the plan
	// decodes, and only the signature tells.
	oldSQL := p.Steps[0].SQL
	newSQL := "DROP TABLE users;\n"
	edited := strings.Replace(good, p.Steps[0].Checksum.String(), source.ChecksumOf(newSQL).String(), 1)
	edited = strings.Replace(edited, jsonText(t, oldSQL), jsonText(t, newSQL), 1)
	if edited == good {
		t.Fatal("test did not edit the plan")
	}
	if _, err := plan.Load(strings.NewReader(edited), nil); err != nil {
		t.Fatalf("the edited plan should decode without a key (checksums recomputed): %v", err)
	}
	tests := []struct {
		name, text string
		key        []byte
		want       string
	}{
		{"edited SQL", edited, key, "changed after it was signed"},
		{"other key", good, []byte("another key, long enough"), "changed after it was signed"},
		{"signature removed", strings.Replace(good, `"signature"`, `"_"`, 1), key, "unknown field"},
		{"bad signature kind", strings.Replace(good, "hmac-sha256:", "md5:", 1), key, "unknown signature kind"},
		{"short key", good, []byte("short"), "want at least 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := plan.Load(strings.NewReader(tt.text), &plan.LoadOptions{Key: tt.key})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	var unsigned bytes.Buffer
	if err := plan.Save(&unsigned, p, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := plan.Load(&unsigned, &plan.LoadOptions{Key: key}); !errors.Is(err, plan.ErrSignature) || !strings.Contains(err.Error(), "not signed") {
		t.Errorf("Load of an unsigned plan with a key = %v, want ErrSignature: not signed", err)
	}
	if err := plan.Save(&bytes.Buffer{}, p, &plan.SaveOptions{Key: []byte("short")}); err == nil {
		t.Error("Save with a 5-byte key succeeded")
	}
}

func TestCheckFiles(t *testing.T) {
	files := map[string]string{
		"v1_a.up.sql":   "CREATE TABLE a (id int);\n",
		"v1_a.down.sql": "DROP TABLE a;\n",
		"v2_b.up.sql":   "CREATE TABLE b (id int);\n",
		"v2_b.down.sql": "DROP TABLE b;\n",
	}
	set := testsets.Map(t, files)
	up, err := plan.Compute(set, plan.State{}, plan.Latest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	down, err := plan.Compute(set, plantest.Applied(set, 1, 2), plan.DownTo(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := up.CheckFiles(set); err != nil {
		t.Errorf("CheckFiles against its own set: %v", err)
	}
	if err := down.CheckFiles(set); err != nil {
		t.Errorf("CheckFiles of a down plan against its own set: %v", err)
	}
	// The same SQL under another directory (a CI checkout) still matches.
	if err := up.CheckFiles(loadMap(t, "elsewhere", files)); err != nil {
		t.Errorf("CheckFiles against the same files elsewhere: %v", err)
	}

	change := func(edit func(map[string]string)) *source.Set {
		m := map[string]string{}
		for k, v := range files {
			m[k] = v
		}
		edit(m)
		return testsets.Map(t, m)
	}
	tests := []struct {
		name string
		p    *plan.Plan
		set  *source.Set
		want []refusal
		text string
	}{
		{"edited up", up, change(func(m map[string]string) { m["v2_b.up.sql"] = "CREATE TABLE b (id bigint);\n" }),
			[]refusal{{plan.ErrFileChanged, 2, "m/v2_b.up.sql"}}, "plan: version 2 (m/v2_b.up.sql): file changed since the plan was made: the plan has its up script with checksum"},
		{"deleted", up, change(func(m map[string]string) { delete(m, "v2_b.up.sql"); delete(m, "v2_b.down.sql") }),
			[]refusal{{plan.ErrFileChanged, 2, "m/v2_b.up.sql"}}, "the files no longer have version 2"},
		{"edited down", down, change(func(m map[string]string) { m["v1_a.down.sql"] = "DROP TABLE a CASCADE;\n" }),
			[]refusal{{plan.ErrFileChanged, 1, "m/v1_a.down.sql"}}, "down script with checksum"},
		{"down removed", down, change(func(m map[string]string) { delete(m, "v2_b.down.sql") }),
			[]refusal{{plan.ErrFileChanged, 2, "m/v2_b.down.sql"}}, "no longer have a down script for version 2"},
		{"both edited", up, change(func(m map[string]string) { m["v1_a.up.sql"] += "-- x\n"; m["v2_b.up.sql"] += "-- y\n" }),
			[]refusal{{plan.ErrFileChanged, 1, "m/v1_a.up.sql"}, {plan.ErrFileChanged, 2, "m/v2_b.up.sql"}}, "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.CheckFiles(tt.set)
			if diff := cmp.Diff(tt.want, refusals(t, err), errCmp); diff != "" {
				t.Errorf("CheckFiles (-want +got):\n%s", diff)
			}
			if err == nil || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("CheckFiles = %v, want it to contain %q", err, tt.text)
			}
		})
	}
}

func loadMap(t *testing.T, dir string, files map[string]string) *source.Set {
	t.Helper()
	set, err := source.FromFS(testsets.MapFS(dir, files), dir)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// jsonText returns s as the inside of a JSON string, as Save writes it.
func jsonText(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSuffix(buf.String(), "\n"), `"`), `"`)
}
