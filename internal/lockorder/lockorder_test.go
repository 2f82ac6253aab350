package lockorder

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEveryMutexIsInTheLockOrder walks the module's non-test Go files and
// wants each mutex (a struct field, an embedded field or a package
// variable of type sync.Mutex or sync.RWMutex, arrays of them included)
// named in locksordering.txt as dir.Type.field, where dir is the package's
// directory below the module root ("hub", "server/internal/wheel").
func TestEveryMutexIsInTheLockOrder(t *testing.T) {
	root := filepath.Join("..", "..")
	order, err := os.ReadFile(filepath.Join(root, "locksordering.txt"))
	if err != nil {
		t.Fatal(err)
	}
	names := mutexes(t, root)
	if len(names) < 10 {
		t.Fatalf("found only %d mutexes: the walk is broken", len(names))
	}
	for _, n := range names {
		if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(n) + `\s`).Match(order) {
			t.Errorf("%s is not named in locksordering.txt: say where it nests", n)
		}
	}
}

func mutexes(t *testing.T, root string) []string {
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata"):
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go"):
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		out = append(out, fileMutexes(t, path, filepath.ToSlash(rel))...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fileMutexes(t *testing.T, path, pkg string) []string {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, spec := range gd.Specs {
			switch s := spec.(type) {
			case *ast.TypeSpec:
				if st, ok := s.Type.(*ast.StructType); ok {
					out = append(out, structMutexes(pkg+"."+s.Name.Name, st)...)
				}
			case *ast.ValueSpec:
				for _, n := range s.Names {
					if isMutex(s.Type) {
						out = append(out, pkg+"."+n.Name)
					}
					for _, v := range s.Values {
						if cl, ok := v.(*ast.CompositeLit); ok {
							if st, ok := cl.Type.(*ast.StructType); ok && len(structMutexes("", st)) > 0 {
								out = append(out, pkg+"."+n.Name)
							}
						}
					}
				}
			}
		}
	}
	return out
}

func structMutexes(prefix string, st *ast.StructType) []string {
	var out []string
	for _, fld := range st.Fields.List {
		if !isMutex(fld.Type) {
			continue
		}
		if len(fld.Names) == 0 {
			out = append(out, prefix) // embedded: the struct itself is the lock
		}
		for _, n := range fld.Names {
			out = append(out, prefix+"."+n.Name)
		}
	}
	return out
}

// isMutex reports whether e is sync.Mutex or sync.RWMutex, or an array of
// either.
func isMutex(e ast.Expr) bool {
	if at, ok := e.(*ast.ArrayType); ok {
		e = at.Elt
	}
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "sync" && (sel.Sel.Name == "Mutex" || sel.Sel.Name == "RWMutex")
}
