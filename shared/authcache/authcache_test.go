package authcache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFlushersWireTheFlush: exactly the functions of FlushesAuthorizerCache
// pass wiring.WithAuthCache(awsflush.New) and import the API Gateway
// client's package; every other binary stays without it.
func TestFlushersWireTheFlush(t *testing.T) {
	mains, err := filepath.Glob("../../functions/*/main.go")
	if err != nil || len(mains) == 0 {
		t.Fatalf("functions: %v %v", mains, err)
	}
	seen := 0
	for _, m := range mains {
		fn := filepath.Base(filepath.Dir(m))
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		wires := strings.Contains(src, "wiring.WithAuthCache(awsflush.New)")
		imports := strings.Contains(src, `"github.com/startmsg/chatbackend/shared/authcache/awsflush"`)
		if FlushesAuthorizerCache[fn] {
			seen++
			if !wires || !imports {
				t.Errorf("%s changes credentials but does not flush the authorizer cache", fn)
			}
		} else if wires || imports {
			t.Errorf("%s links the authorizer cache flush without changing credentials", fn)
		}
	}
	if seen != len(FlushesAuthorizerCache) {
		t.Errorf("%d of %d flushing functions found", seen, len(FlushesAuthorizerCache))
	}
}
