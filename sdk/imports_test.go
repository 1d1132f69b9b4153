package sdk_test

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

// heavy names what an application must never compile because it imports
// the SDK: the server's packages and dependencies.
var heavy = []string{
	"github.com/ramp-flags/ramp/store", "github.com/ramp-flags/ramp/httpapi", "github.com/ramp-flags/ramp/server",
	"github.com/ramp-flags/ramp/hub", "github.com/ramp-flags/ramp/cmd", "github.com/ramp-flags/ramp/client",
	"cobra", "sqlite", "prometheus", "pgx", "yaml",
}

// imports returns every non-standard package root imports, directly or not.
func imports(t *testing.T, root string) []string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	var walk func(path, dir string)
	walk = func(path, dir string) {
		if seen[path] || path == "C" {
			return
		}
		seen[path] = true
		pkg, err := build.Import(path, dir, 0)
		if err != nil {
			t.Fatalf("import %s: %v", path, err)
		}
		if !pkg.Goroot {
			out = append(out, path)
		}
		for _, imp := range pkg.Imports {
			walk(imp, pkg.Dir)
		}
	}
	walk(root, ".")
	slices.Sort(out)
	return out
}

// TestImports keeps the SDK light: it is compiled into applications, so it
// may import the standard library, the root package, eval and eval's hash,
// the JSON decoder of the stream, and nothing of the server.
func TestImports(t *testing.T) {
	allowed := []string{
		"github.com/ramp-flags/ramp", "github.com/ramp-flags/ramp/eval", "github.com/ramp-flags/ramp/sdk",
		"github.com/zeebo/xxh3", "github.com/klauspost/cpuid/v2", "golang.org/x/sys/cpu",
	}
	const jsonv2 = "github.com/go-json-experiment/json"
	for _, path := range imports(t, "github.com/ramp-flags/ramp/sdk") {
		for _, h := range heavy {
			if strings.Contains(path, h) {
				t.Errorf("sdk depends on %s, a server dependency", path)
			}
		}
		if !slices.Contains(allowed, path) && path != jsonv2 && !strings.HasPrefix(path, jsonv2+"/") {
			t.Errorf("sdk depends on %s; it may import only the standard library, the root package, eval and %s", path, jsonv2)
		}
	}
}
