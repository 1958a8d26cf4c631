package hours_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/startmsg/chatbackend/shared/apperr"
	"github.com/startmsg/chatbackend/shared/hours"
)

// childVar marks the test binary run by TestZoneDataAsInLambda inside a
// mount namespace where the machine's zone database is hidden.
const childVar = "HOURS_ZONEDATA_CHILD"

// zoneDirs are where Go's time package looks for the zone database on
// Linux, besides ZONEINFO, an embedded time/tzdata and GOROOT's zip.
var zoneDirs = []string{"/usr/share/zoneinfo", "/usr/share/lib/zoneinfo", "/usr/lib/locale/TZ", "/etc/zoneinfo"}

// TestZoneDataAsInLambda runs the zone checks as Lambda's provided.al2023
// runtime would: no zone database on the machine (hidden by an empty
// mount), GOROOT's zip out of reach (the bootstrap is built with
// -trimpath), time/tzdata not linked (a function does not embed it: see
// shared/wiring's TestZoneDataWhereHoursAreRead). With ZONEINFO naming Go's
// zoneinfo.zip, as the CDK app sets it beside the zip `make build` puts in
// the asset, zones load; without it, or with the zip missing from the
// asset, a zone is ErrNoZoneData, an internal error: never a 400 for a
// valid zone, never hours read in UTC.
func TestZoneDataAsInLambda(t *testing.T) {
	if os.Getenv(childVar) != "" {
		zoneDataChild(t)
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("the mount namespace that hides the zone database is Linux's")
	}
	zip := filepath.Join(runtime.GOROOT(), "lib", "time", "zoneinfo.zip")
	if _, err := os.Stat(zip); err != nil {
		t.Fatalf("Go's zone database: %v", err)
	}
	for _, c := range []struct{ name, zoneinfo, want string }{
		{"the asset's zip", zip, "found"},
		{"no ZONEINFO", "", "missing"},
		{"ZONEINFO without the zip", filepath.Join(t.TempDir(), "zoneinfo.zip"), "missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestZoneDataAsInLambda$", "-test.count=1")
			cmd.Env = append(os.Environ(), childVar+"="+c.want, "ZONEINFO="+c.zoneinfo, "GOROOT="+t.TempDir())
			cmd.SysProcAttr = &syscall.SysProcAttr{
				Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
				UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
				GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
			}
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) && (errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC)) {
				// The process could not start in a namespace of its own
				// (a container's seccomp profile, a kernel setting): the
				// machine's zone database cannot be hidden here.
				t.Skipf("no user namespace on this machine (%v): the zone database cannot be hidden", err)
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(string(out), "zone data "+c.want) {
				t.Fatalf("the child did not check (no %q):\n%s", "zone data "+c.want, out)
			}
		})
	}
}

// zoneDataChild hides the machine's zone database and checks what loads.
func zoneDataChild(t *testing.T) {
	for _, d := range zoneDirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			if err := syscall.Mount("tmpfs", d, "tmpfs", 0, ""); err != nil {
				t.Fatalf("hide %s: %v", d, err)
			}
		}
	}
	ny := weekdays("America/New_York")
	switch want := os.Getenv(childVar); want {
	case "found":
		if err := ny.Validate("hours"); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		loc, err := ny.Location()
		if err != nil {
			t.Fatal(err)
		}
		// Monday 2026-07-06 08:30 in New York (EDT, UTC-4) is closed; it
		// opens at 09:00 EDT, 13:00 UTC.
		open, at := ny.Next(time.Date(2026, 7, 6, 12, 30, 0, 0, time.UTC))
		if open || !at.Equal(time.Date(2026, 7, 6, 13, 0, 0, 0, time.UTC)) || loc.String() != "America/New_York" {
			t.Fatalf("Next: open %v at %s (%s)", open, at.UTC(), loc)
		}
	case "missing":
		err := ny.Validate("hours")
		if !errors.Is(err, hours.ErrNoZoneData) {
			t.Fatalf("Validate: %v, want ErrNoZoneData", err)
		}
		var ae *apperr.Error
		if errors.As(err, &ae) {
			t.Fatalf("Validate: %v is the caller's fault (%s), want an internal error", err, ae.Kind)
		}
		if _, err := ny.Location(); !errors.Is(err, hours.ErrNoZoneData) {
			t.Fatalf("Location: %v, want ErrNoZoneData", err)
		}
		// A schedule in UTC needs no database.
		if err := weekdays("UTC").Validate("hours"); err != nil {
			t.Fatalf("UTC: %v", err)
		}
	default:
		t.Fatalf("%s=%q", childVar, want)
	}
	fmt.Println("zone data " + os.Getenv(childVar))
}
