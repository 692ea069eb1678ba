package source

import (
	"io/fs"
	"path"
	"strings"
)

// maxLinks bounds how many symbolic links one file name may go through.
const maxLinks = 40

// linkOutside reports whether name, an entry of directory dir of fsys that
// is a symbolic link, resolves outside dir, following every link on the
// way by name, as os.Root does: a target that is absolute, or whose ".."
// goes above dir at any point (even to come back), is outside. It returns
// the link's own target for the message. A name that does not resolve
// (a dangling link) is not outside: reading it fails on its own.
func linkOutside(fsys fs.ReadLinkFS, dir, name string) (target string, outside bool) {
	resolved := []string{}
	if dir != "." {
		resolved = strings.Split(dir, "/")
	}
	floor := len(resolved) // dir itself is trusted, links and all
	queue := []string{name}
	for hops := 0; len(queue) > 0; {
		c := queue[0]
		queue = queue[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(resolved) == floor {
				return target, true
			}
			resolved = resolved[:len(resolved)-1]
			continue
		}
		p := path.Join(append(resolved, c)...)
		fi, err := fs.Lstat(fsys, p)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			resolved = append(resolved, c)
			continue
		}
		if hops++; hops > maxLinks {
			return target, false // a loop: reading it fails on its own
		}
		t, err := fsys.ReadLink(p)
		if err != nil {
			return target, false
		}
		if target == "" {
			target = t
		}
		if strings.HasPrefix(t, "/") || strings.HasPrefix(t, `\`) || len(t) > 1 && t[1] == ':' {
			return target, true // absolute (on Windows too)
		}
		queue = append(strings.Split(t, "/"), queue...)
	}
	return target, false
}
