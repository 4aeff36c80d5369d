package fs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// TestIndexWritesAreJournaled guards the journal's premise: every index
// write goes through itx (applyOp), so it is in the journal; a write made
// on a bolt.Bucket or bolt.Tx directly would be lost by a crash between two
// checkpoints. It reads the package's source for calls of bbolt's writing
// methods outside the two places allowed to make them.
func TestIndexWritesAreJournaled(t *testing.T) {
	writers := map[string]bool{"Put": true, "Delete": true, "CreateBucket": true, "CreateBucketIfNotExists": true,
		"DeleteBucket": true, "SetSequence": true, "NextSequence": true, "MoveBucket": true}
	allowed := map[string]int{
		"itx.go":     6, // applyOp: the one applier, live and in replay
		"recover.go": 1, // Open's table initialisation, made durable by the checkpoint that follows
	}
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]int{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !writers[sel.Sel.Name] {
				return true
			}
			if x, ok := sel.X.(*ast.SelectorExpr); ok && x.Sel.Name == "bufPool" {
				return true // sync.Pool.Put
			}
			found[name]++
			if _, ok := allowed[name]; !ok {
				t.Errorf("%s: %s writes to the index directly; use itx (put, del, createTable, deleteTable)", fset.Position(call.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
	for name, want := range allowed {
		if found[name] != want {
			t.Errorf("%s: %d direct index writes, expected %d (update this test only with a reason)", name, found[name], want)
		}
	}
}
