package events_test

import (
	"os"
	"slices"
	"testing"
)

// inProcessOnly are the functions whose samples run through their handler
// in-process only, not yet through their bootstrap under the emulator.
var inProcessOnly = []string{"messenger-intake"}

// TestEveryFunctionHasASample: every function under functions/ has a
// sample the tests replay (sampleFunctions: those replayed in-process and
// under the emulator), but for the few in inProcessOnly.
func TestEveryFunctionHasASample(t *testing.T) {
	dirs, err := os.ReadDir("../functions")
	if err != nil {
		t.Fatal(err)
	}
	sampled := sampleFunctions(t)
	for _, d := range dirs {
		if !d.IsDir() || slices.Contains(sampled, d.Name()) {
			continue
		}
		if !slices.Contains(inProcessOnly, d.Name()) {
			t.Errorf("functions/%s has no sample event in events/", d.Name())
		}
	}
	for _, fn := range inProcessOnly {
		if slices.Contains(sampled, fn) {
			t.Errorf("%s is replayed under the emulator now: take it out of inProcessOnly", fn)
		}
	}
}
