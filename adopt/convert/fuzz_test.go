package convert_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/waymarkdb/waymark/adopt/convert"
)

// FuzzConvert converts one file of any name and text in every layout: no
// panic, and what converts keeps the file's text byte for byte after the
// directive lines it adds.
func FuzzConvert(f *testing.F) {
	f.Add("1_a.sql", "-- +goose Up\nCREATE TABLE a (id int);\n-- +goose Down\nDROP TABLE a;\n")
	f.Add("1_a.sql", "-- +goose NO TRANSACTION\n-- +goose Up\n-- +goose StatementBegin\nDO $$ BEGIN END $$;\n-- +goose StatementEnd\n")
	f.Add("1_a.sql", "CREATE TABLE a (id int);\n---- create above / drop below ----\n---- tern: disable-tx ----\nDROP TABLE a;\n")
	f.Add("1_a.up.sql", "BEGIN;\nCREATE INDEX CONCURRENTLY i ON t (x);\nCOMMIT;\n")
	f.Add("20150100000001000000_a.postgres.autocommit.up.sql", "-- empty\n")
	f.Add("1_a.up.sql", "SELECT 'unterminated")
	f.Add("1_a.up.sql", "\xef\xbb\xbfSELECT 1;")
	f.Fuzz(func(t *testing.T, name, text string) {
		if strings.ContainsAny(name, "/\x00") || name == "" || name == "." || name == ".." {
			return
		}
		for _, tool := range convert.Tools {
			res, err := convert.Convert(fstest.MapFS{"m/" + name: {Data: []byte(text)}}, "m", tool, nil)
			if err != nil {
				continue
			}
			var whole string
			for _, file := range res.Files() {
				body := file.SQL
				if file.NoTransaction {
					body = strings.TrimPrefix(body, "-- waymark:no-transaction\n")
				}
				if file.Empty {
					_, body, _ = strings.Cut(body, "\n")
				}
				whole += body
			}
			rest, cut := strings.CutPrefix(text, whole)
			switch {
			case len(res.Files()) == 0 || whole == text:
			case tool == convert.Tern && cut && strings.TrimSpace(strings.TrimPrefix(rest, "---- create above / drop below ----")) == "":
				// tern's down SQL of only whitespace: irreversible.
			default:
				t.Errorf("%s, %s: converted files hold %q, want the file's %q", tool, name, whole, text)
			}
		}
	})
}
