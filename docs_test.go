package waymark_test

// The documentation's own tests: README.md and docs/*.md keep their
// promises. TestDocsLinks checks that every relative link resolves, to a
// file and, for a #fragment, to a heading of the Markdown file it names.
// TestDocsGoCompiles type-checks every code block marked ```go, so that an
// example never names an API that no longer exists.
//
// # How a ```go block is compiled
//
// Each block becomes a package of its own in a scratch module that
// requires waymark from this checkout (a replace directive), and go vet
// checks them all. A block is one of:
//
//   - a whole file: it starts with "package";
//   - declarations (imports, types, vars, funcs, //go:embed): it parses
//     as a file once "package docs" is put before it;
//   - a fragment of statements: anything else; it becomes the body of a
//     function returning error, so that it may "return err".
//
// Imports a block leaves out are added from the package names the docs
// use (context, fmt, plan, execute, pgxpool, cmp for go-cmp, ...: see
// docImports). The names the docs take as given are package-level
// variables of each block's package, declared unless the block declares
// them itself: ctx, t, db (*pgxbackend.Backend), pool (*pgxpool.Pool), set
// (*source.Set), p (*plan.Plan), url, key, file (bytes.Buffer),
// scratchConn (*pgx.Conn) and migrations (embed.FS; a migrations directory
// with one file exists beside every block for //go:embed). A variable a
// fragment declares and does not use is used for it. Write "// ..." rather
// than "..." where code is left out. Errors point at the Markdown file and
// line (a //line directive).

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// docFiles returns README.md and docs/*.md.
func docFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no docs/*.md")
	}
	return append([]string{"README.md"}, files...)
}

// mdBlock is a fenced code block of a Markdown file.
type mdBlock struct {
	lang string
	line int // of the block's first line of code, 1-based
	code string
}

// mdLink is a link of a Markdown file.
type mdLink struct {
	line   int
	target string
}

// mdDoc is what the tests read from a Markdown file.
type mdDoc struct {
	anchors map[string]bool
	links   []mdLink
	blocks  []mdBlock
}

var (
	linkRE       = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	inlineCodeRE = regexp.MustCompile("`[^`]*`")
	headingRE    = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
)

// parseMarkdown reads the headings, links and fenced code blocks of a
// Markdown file: enough of CommonMark for these docs.
func parseMarkdown(text string) mdDoc {
	d := mdDoc{anchors: map[string]bool{}}
	seen := map[string]int{}
	var block *mdBlock
	var fence string
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if block != nil {
			if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, fence[:1]) == "" {
				d.blocks = append(d.blocks, *block)
				block = nil
				continue
			}
			block.code += line + "\n"
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			n := len(trimmed) - len(strings.TrimLeft(trimmed, trimmed[:1]))
			fence = trimmed[:n]
			block = &mdBlock{lang: strings.Fields(trimmed[n:] + " x")[0], line: i + 2}
			if block.lang == "x" {
				block.lang = ""
			}
			continue
		}
		if m := headingRE.FindStringSubmatch(line); m != nil {
			slug := slugify(m[2])
			if n, ok := seen[slug]; ok {
				seen[slug] = n + 1
				slug += "-" + strconv.Itoa(n+1)
			} else {
				seen[slug] = 0
			}
			d.anchors[slug] = true
		}
		for _, m := range linkRE.FindAllStringSubmatch(inlineCodeRE.ReplaceAllString(line, ""), -1) {
			d.links = append(d.links, mdLink{line: i + 1, target: m[1]})
		}
	}
	return d
}

// slugify returns the anchor GitHub gives a heading: lower case, spaces as
// dashes, and only letters, digits, dashes and underscores kept.
func slugify(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestSlugify(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Migrating from CI: plan, review, apply", "migrating-from-ci-plan-review-apply"},
		{"Is it safe on a busy table?", "is-it-safe-on-a-busy-table"},
		{"Why `waymarktest`, at the root", "why-waymarktest-at-the-root"},
		{"The command in your service binary", "the-command-in-your-service-binary"},
		{"Reads and connections", "reads-and-connections"},
	} {
		if got := slugify(c.in); got != c.want {
			t.Errorf("slugify(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestDocsLinks checks that every relative link of README.md and
// docs/*.md names a file that exists and, with a #fragment, a heading of
// that Markdown file.
func TestDocsLinks(t *testing.T) {
	docs := map[string]mdDoc{}
	read := func(path string) (mdDoc, error) {
		path = filepath.Clean(path)
		if d, ok := docs[path]; ok {
			return d, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return mdDoc{}, err
		}
		d := parseMarkdown(string(b))
		docs[path] = d
		return d, nil
	}
	checked := 0
	for _, file := range docFiles(t) {
		d, err := read(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range d.links {
			if strings.Contains(l.target, "://") || strings.HasPrefix(l.target, "mailto:") {
				continue
			}
			checked++
			path, frag, _ := strings.Cut(l.target, "#")
			target := file
			if path != "" {
				target = filepath.Join(filepath.Dir(file), path)
				if _, err := os.Stat(target); err != nil {
					t.Errorf("%s:%d: link %s: %v", file, l.line, l.target, err)
					continue
				}
			}
			if frag == "" {
				continue
			}
			if !strings.HasSuffix(target, ".md") {
				t.Errorf("%s:%d: link %s: a #fragment of a file that is not Markdown", file, l.line, l.target)
				continue
			}
			td, err := read(target)
			if err != nil {
				t.Errorf("%s:%d: link %s: %v", file, l.line, l.target, err)
				continue
			}
			if !td.anchors[frag] {
				t.Errorf("%s:%d: link %s: %s has no heading #%s", file, l.line, l.target, target, frag)
			}
		}
	}
	if checked == 0 {
		t.Error("no relative links found: the Markdown reader is broken")
	}
}

// docImports maps the package names the docs use to their import paths.
var docImports = map[string]string{
	"bytes":       "bytes",
	"context":     "context",
	"embed":       "embed",
	"errors":      "errors",
	"fmt":         "fmt",
	"json":        "encoding/json",
	"os":          "os",
	"slog":        "log/slog",
	"testing":     "testing",
	"time":        "time",
	"cmp":         "github.com/google/go-cmp/cmp",
	"pgx":         "github.com/jackc/pgx/v5",
	"pgxpool":     "github.com/jackc/pgx/v5/pgxpool",
	"adopt":       "github.com/waymarkdb/waymark/adopt",
	"convert":     "github.com/waymarkdb/waymark/adopt/convert",
	"backend":     "github.com/waymarkdb/waymark/backend",
	"pgxbackend":  "github.com/waymarkdb/waymark/backend/pgxbackend",
	"cli":         "github.com/waymarkdb/waymark/cli",
	"execute":     "github.com/waymarkdb/waymark/execute",
	"fleet":       "github.com/waymarkdb/waymark/fleet",
	"hazard":      "github.com/waymarkdb/waymark/hazard",
	"hazardtest":  "github.com/waymarkdb/waymark/hazard/hazardtest",
	"measure":     "github.com/waymarkdb/waymark/hazard/measure",
	"review":      "github.com/waymarkdb/waymark/hazard/review",
	"plan":        "github.com/waymarkdb/waymark/plan",
	"plantest":    "github.com/waymarkdb/waymark/plan/plantest",
	"schema":      "github.com/waymarkdb/waymark/schema",
	"source":      "github.com/waymarkdb/waymark/source",
	"status":      "github.com/waymarkdb/waymark/status",
	"waymarktest": "github.com/waymarkdb/waymark/waymarktest",
}

// docGivens are the names the docs take as given, declared at package
// level unless a block declares them.
var docGivens = []struct{ name, decl, pkg string }{
	{"ctx", "var ctx context.Context", "context"},
	{"t", "var t *testing.T", "testing"},
	{"db", "var db *pgxbackend.Backend", "pgxbackend"},
	{"pool", "var pool *pgxpool.Pool", "pgxpool"},
	{"set", "var set *source.Set", "source"},
	{"p", "var p *plan.Plan", "plan"},
	{"url", "var url string", ""},
	{"key", "var key []byte", ""},
	{"file", "var file bytes.Buffer", "bytes"},
	{"scratchConn", "var scratchConn *pgx.Conn", "pgx"},
	{"migrations", "var migrations embed.FS", "embed"},
}

// goSource turns a ```go block into the files of a package: its own, and
// the declarations of the givens it does not declare.
func goSource(mdPath string, b mdBlock) (main, givens string, err error) {
	var head strings.Builder
	head.WriteString("package docs\n\n")
	directive := fmt.Sprintf("//line %s:%d\n", mdPath, b.line)
	fset := token.NewFileSet()
	if strings.HasPrefix(strings.TrimSpace(b.code), "package ") {
		return directive + b.code, givenFile(nil), nil
	}
	var body string
	f, err := parser.ParseFile(fset, "", "package docs\n"+b.code, parser.ParseComments)
	if err == nil {
		body = directive + b.code
	} else {
		f, err = parser.ParseFile(fset, "", "package docs\nfunc _() error {\n"+b.code+"\n}", parser.ParseComments)
		if err != nil {
			return "", "", fmt.Errorf("%s:%d: neither declarations nor statements: %v", mdPath, b.line, err)
		}
		var uses strings.Builder
		for _, name := range definedAtTop(f.Decls[len(f.Decls)-1].(*ast.FuncDecl).Body.List) {
			uses.WriteString("\t_ = " + name + "\n")
		}
		body = "func _() error {\n" + directive + b.code + uses.String() + "\treturn nil\n}\n"
	}
	declared := declaredNames(f)
	imported := map[string]bool{}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		imported[path] = true
		imported[filepath.Base(path)] = true
		if path == "github.com/jackc/pgx/v5" {
			imported["pgx"] = true
		}
	}
	var add []string
	for _, name := range usedPackages(f) {
		if declared[name] || imported[name] {
			continue
		}
		if path, ok := docImports[name]; ok {
			add = append(add, path)
		}
	}
	if strings.Contains(b.code, "//go:embed") && !imported["embed"] && !slices.Contains(add, "embed") {
		add = append(add, "embed")
	}
	if len(add) > 0 {
		head.WriteString("import (\n")
		for _, path := range add {
			fmt.Fprintf(&head, "\t%q\n", path)
		}
		head.WriteString(")\n\n")
	}
	return head.String() + body, givenFile(declared), nil
}

// givenFile returns the file declaring the givens that are not declared.
func givenFile(declared map[string]bool) string {
	var decls, imports []string
	for _, g := range docGivens {
		if declared[g.name] {
			continue
		}
		decls = append(decls, g.decl)
		if g.pkg != "" && !slices.Contains(imports, docImports[g.pkg]) {
			imports = append(imports, docImports[g.pkg])
		}
	}
	var b strings.Builder
	b.WriteString("package docs\n\n")
	for _, path := range imports {
		fmt.Fprintf(&b, "import %q\n", path)
	}
	for _, d := range decls {
		b.WriteString(d + "\n")
	}
	return b.String()
}

// definedAtTop returns the names a list of statements declares at its top
// level.
func definedAtTop(stmts []ast.Stmt) []string {
	var names []string
	for _, s := range stmts {
		switch s := s.(type) {
		case *ast.AssignStmt:
			if s.Tok == token.DEFINE {
				for _, e := range s.Lhs {
					if id, ok := e.(*ast.Ident); ok && id.Name != "_" && !slices.Contains(names, id.Name) {
						names = append(names, id.Name)
					}
				}
			}
		case *ast.DeclStmt:
			if g, ok := s.Decl.(*ast.GenDecl); ok {
				for _, spec := range g.Specs {
					if v, ok := spec.(*ast.ValueSpec); ok {
						for _, id := range v.Names {
							if id.Name != "_" {
								names = append(names, id.Name)
							}
						}
					}
				}
			}
		}
	}
	return names
}

// declaredNames returns every name a file declares anywhere: its
// package-level names, variables, parameters. A name of docGivens or
// docImports it declares is then not given or imported.
func declaredNames(f *ast.File) map[string]bool {
	names := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE {
				for _, e := range n.Lhs {
					if id, ok := e.(*ast.Ident); ok {
						names[id.Name] = true
					}
				}
			}
		case *ast.RangeStmt:
			if n.Tok == token.DEFINE {
				for _, e := range []ast.Expr{n.Key, n.Value} {
					if id, ok := e.(*ast.Ident); ok {
						names[id.Name] = true
					}
				}
			}
		case *ast.ValueSpec:
			for _, id := range n.Names {
				names[id.Name] = true
			}
		case *ast.TypeSpec:
			names[n.Name.Name] = true
		case *ast.FuncDecl:
			if n.Name.Name != "_" {
				names[n.Name.Name] = true
			}
		case *ast.Field:
			for _, id := range n.Names {
				names[id.Name] = true
			}
		}
		return true
	})
	return names
}

// usedPackages returns the names used as X in X.Sel, in order.
func usedPackages(f *ast.File) []string {
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		if s, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := s.X.(*ast.Ident); ok && !slices.Contains(names, id.Name) {
				names = append(names, id.Name)
			}
		}
		return true
	})
	return names
}

// TestDocsGoCompiles type-checks every ```go block of README.md and
// docs/*.md (see the top of this file for how a block is compiled).
func TestDocsGoCompiles(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to compile the docs' code with: %v", err)
	}
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	gosum, err := os.ReadFile("go.sum")
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	modText := regexp.MustCompile(`(?m)^module .*$`).ReplaceAllString(string(gomod), "module docscheck")
	modText += fmt.Sprintf("\nrequire github.com/waymarkdb/waymark v0.0.0\n\nreplace github.com/waymarkdb/waymark => %s\n", strconv.Quote(root))
	write := func(path, text string) {
		t.Helper()
		path = filepath.Join(mod, path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", modText)
	write("go.sum", string(gosum))
	n := 0
	for _, file := range docFiles(t) {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range parseMarkdown(string(text)).blocks {
			if b.lang != "go" {
				continue
			}
			n++
			main, givens, err := goSource(filepath.Join(root, file), b)
			if err != nil {
				t.Error(err)
				continue
			}
			dir := fmt.Sprintf("b%03d", n)
			write(filepath.Join(dir, "block.go"), main)
			write(filepath.Join(dir, "givens.go"), givens)
			write(filepath.Join(dir, "migrations", "v001_init.up.sql"), "SELECT 1;\n")
		}
	}
	if n == 0 {
		t.Fatal("no ```go blocks found: the Markdown reader is broken")
	}
	// unreachable is off: a fragment that ends in a return is followed by
	// the uses of its variables.
	cmd := exec.Command(goCmd, "vet", "-unreachable=false", "./...")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("the docs' Go does not compile (%v); the scratch module is %s:\n%s", err, mod, out.String())
	}
	t.Logf("%d ```go blocks compiled", n)
}

// TestArchitecture checks the package table of docs/architecture.md
// against go list: every package of the module is in it, with exactly the
// module's packages it imports; and the packages it says do without pgx
// do, even indirectly.
func TestArchitecture(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to list the packages with: %v", err)
	}
	const module = "github.com/waymarkdb/waymark"
	rel := func(path string) string {
		if path == module {
			return "."
		}
		return strings.TrimPrefix(path, module+"/")
	}
	out, err := exec.Command(goCmd, "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	want := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		var imports []string
		for _, imp := range f[1:] {
			if imp == module || strings.HasPrefix(imp, module+"/") {
				imports = append(imports, rel(imp))
			}
		}
		slices.Sort(imports)
		want[rel(f[0])] = imports
	}

	// The table is in docs/architecture.md; packages added by the release
	// day tools are listed in docs/release-day.md until it moves there.
	var text []byte
	for _, name := range []string{"architecture.md", "release-day.md"} {
		b, err := os.ReadFile(filepath.Join("docs", name))
		if err != nil {
			t.Fatal(err)
		}
		text = append(text, b...)
	}
	cell := regexp.MustCompile("`([^`]+)`")
	got := map[string][]string{}
	for _, line := range strings.Split(string(text), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue // not a row of the package table
		}
		pkg := cell.FindStringSubmatch(cells[1])[1]
		var imports []string
		for _, m := range cell.FindAllStringSubmatch(cells[3], -1) {
			imports = append(imports, m[1])
		}
		slices.Sort(imports)
		got[pkg] = imports
	}
	for pkg, imports := range want {
		g, ok := got[pkg]
		if !ok {
			t.Errorf("docs/architecture.md: package %s is missing from the table (it imports %q)", pkg, imports)
			continue
		}
		if !slices.Equal(g, imports) {
			t.Errorf("docs/architecture.md: %s imports %q, the table says %q", pkg, imports, g)
		}
	}
	for pkg := range got {
		if _, ok := want[pkg]; !ok {
			t.Errorf("docs/architecture.md: the table lists %s, which is not a package of the module", pkg)
		}
	}

	for _, pkg := range []string{"source", "plan", "execute", "backend", "status", "hazard"} {
		out, err := exec.Command(goCmd, "list", "-deps", "./"+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps ./%s: %v", pkg, err)
		}
		if strings.Contains(string(out), "github.com/jackc/pgx") {
			t.Errorf("%s depends on pgx; docs/architecture.md says it does not", pkg)
		}
	}
}

// TestDocsMakeTargets checks that every `make TARGET` the docs name is a
// target of the Makefile, and that the README names make demo and make
// test, the two commands a newcomer runs first.
func TestDocsMakeTargets(t *testing.T) {
	makefile, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([a-z][a-z-]*):`).FindAllStringSubmatch(string(makefile), -1) {
		targets[m[1]] = true
	}
	named := regexp.MustCompile("`make ([a-z][a-z-]*)")
	for _, file := range docFiles(t) {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range named.FindAllStringSubmatch(string(text), -1) {
			if !targets[m[1]] {
				t.Errorf("%s names `make %s`, which the Makefile does not have", file, m[1])
			}
		}
		if file == "README.md" {
			for _, want := range []string{"`make demo`", "`make test`"} {
				if !strings.Contains(string(text), want) {
					t.Errorf("README.md does not name %s", want)
				}
			}
		}
	}
}
