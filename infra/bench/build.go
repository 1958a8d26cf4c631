package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/startmsg/chatbackend/infra/local/rie"
)

// BuildFlags are the go build flags of a deployable bootstrap (as in
// CONVENTIONS.md); CGO_ENABLED=0 is set in the environment.
var BuildFlags = rie.BuildFlags

// Build compiles the main package pkg (for example "./functions/me",
// relative to dir) for linux/goarch into the file out.
func Build(ctx context.Context, dir, pkg, goarch, out string) error {
	args := append([]string{"build"}, BuildFlags...)
	args = append(args, "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s (linux/%s): %v\n%s", pkg, goarch, err, strings.TrimSpace(output.String()))
	}
	return nil
}
