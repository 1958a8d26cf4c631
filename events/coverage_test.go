package events_test

import (
	"os"
	"slices"
	"testing"
)

// TestEveryFunctionHasASample: every function under functions/ has a
// sample the tests replay, in-process and under the emulator
// (sampleFunctions).
func TestEveryFunctionHasASample(t *testing.T) {
	dirs, err := os.ReadDir("../functions")
	if err != nil {
		t.Fatal(err)
	}
	sampled := sampleFunctions(t)
	for _, d := range dirs {
		if d.IsDir() && !slices.Contains(sampled, d.Name()) {
			t.Errorf("functions/%s has no sample event in events/", d.Name())
		}
	}
}
