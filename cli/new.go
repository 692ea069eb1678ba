package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/waymarkdb/waymark/source"
)

func init() {
	register(&Command{
		Name:    "new",
		Args:    "NAME",
		Summary: "create the next vNNN_name.up.sql and .down.sql, numbered like the set",
		Help: `Creates the up and down files of the next version in -dir: one above the
highest version there, written with as many digits (v004 after v003), or the
current UTC time as yyyymmddhhmmss when the versions are such timestamps.
When -dir does not exist, it is created (with its parents), and v001 is
the first version.
NAME may use A-Z a-z 0-9 _ - (spaces become _). Delete the down file if the
change cannot be undone.`,
		Setup: func(fs *flag.FlagSet, env *Env) func(context.Context, []string) (Outcome, error) {
			fs.StringVar(&env.dir, "dir", env.cfg.Dir, "directory of the migration files")
			env.AddFlags(fs, JSONFlag)
			return func(ctx context.Context, args []string) (Outcome, error) {
				if len(args) != 1 {
					return Usage, usagef("want one NAME, got %q", args)
				}
				up, down, made, err := newMigration(env.Dir(), args[0], time.Now())
				if err != nil {
					return 0, err
				}
				if env.JSON {
					doc := struct {
						jsonResult
						Dir  string `json:"created_dir,omitempty"`
						Up   string `json:"up"`
						Down string `json:"down"`
					}{jsonResult: jsonResult{"new", Done, ExitOK}, Up: up, Down: down}
					if made {
						doc.Dir = env.Dir()
					}
					env.writeJSON(doc)
				} else {
					if made {
						fmt.Fprintf(env.Stdout, "created directory %s\n", env.Dir())
					}
					fmt.Fprintf(env.Stdout, "created %s\ncreated %s\n", up, down)
				}
				return Done, nil
			}
		},
	})
}

// timestampDigits is the width of versions written as yyyymmddhhmmss.
const timestampDigits = 14

// newMigration creates the files of the next version named name in dir,
// and dir first if it does not exist (then made is true).
func newMigration(dir, name string, now time.Time) (up, down string, made bool, err error) {
	name = strings.ReplaceAll(strings.TrimSpace(name), " ", "_")
	if _, err := source.ParseFileName("v1_" + name + ".up.sql"); err != nil {
		return "", "", false, usagef("NAME %q: may use only A-Z a-z 0-9 _ -", name)
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(dir, 0o755); err != nil {
			return "", "", false, fmt.Errorf("create directory %s: %w", dir, err)
		}
		made = true
	}
	if err != nil {
		return "", "", false, err
	}
	var latest int64
	digits := 3
	for _, e := range entries {
		f, err := source.ParseFileName(e.Name())
		if err != nil || e.IsDir() {
			continue // source reports bad names when the set is loaded
		}
		if f.Version > latest {
			latest, digits = f.Version, f.Digits
		}
	}
	next := latest + 1
	if digits == timestampDigits {
		if stamp, _ := strconv.ParseInt(now.UTC().Format("20060102150405"), 10, 64); stamp > next {
			next = stamp
		}
	}
	stem := fmt.Sprintf("v%0*d_%s", digits, next, name)
	if _, err := source.ParseFileName(stem + ".up.sql"); err != nil {
		return "", "", made, usagef("NAME %q: may use only A-Z a-z 0-9 _ -", name)
	}
	up, down = filepath.Join(dir, stem+".up.sql"), filepath.Join(dir, stem+".down.sql")
	if err := create(up, fmt.Sprintf("-- %s: write the change here.\n-- For CREATE INDEX CONCURRENTLY, make the first line: -- waymark:no-transaction\n", stem)); err != nil {
		return "", "", made, err
	}
	if err := create(down, fmt.Sprintf("-- %s: undo %s here, or delete this file if it cannot be undone.\n", stem, stem+".up.sql")); err != nil {
		os.Remove(up)
		return "", "", made, err
	}
	return up, down, made, nil
}

// create writes a new file, refusing to overwrite one.
func create(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(content)
	return errors.Join(werr, f.Close())
}
