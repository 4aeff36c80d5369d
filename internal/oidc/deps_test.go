package oidc_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDomainImportsNoHTTP: the verifier and the mapping are domain packages
// (HELPERS.md, DESIGN.md): discovery's HTTP lives in oidc/discovery, which
// imports oidc, never the other way round.
func TestDomainImportsNoHTTP(t *testing.T) {
	for _, pkg := range []string{"github.com/s3fed/s3fed/internal/oidc", "github.com/s3fed/s3fed/internal/mapping"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == "net/http" || dep == "database/sql" || strings.HasSuffix(dep, "/discovery") || strings.Contains(dep, "/store") {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}
