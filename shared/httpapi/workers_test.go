package httpapi

import (
	"sync"
	"testing"
)

// TestGoKeepsGoroutines: calls one after another run on one kept
// goroutine; calls at once each get one, and every call runs.
func TestGoKeepsGoroutines(t *testing.T) {
	// Let earlier tests' workers be: count from here.
	before := workersStarted.Load()
	for i := range 50 {
		done := make(chan int, 1)
		Go(func() { done <- i })
		if got := <-done; got != i {
			t.Fatalf("call %d ran %d", i, got)
		}
	}
	// A worker finishing a call may not yet wait for the next when Go is
	// called again: then Go starts another. Sequential calls must reuse
	// them nearly always.
	if n := workersStarted.Load() - before; n > 5 {
		t.Errorf("50 sequential calls started %d goroutines", n)
	}

	var wg sync.WaitGroup
	release := make(chan struct{})
	var mu sync.Mutex
	ran := 0
	for range 20 {
		wg.Add(1)
		Go(func() {
			defer wg.Done()
			<-release // all 20 at once: none may wait for another
			mu.Lock()
			ran++
			mu.Unlock()
		})
	}
	close(release)
	wg.Wait()
	if ran != 20 {
		t.Errorf("%d of 20 concurrent calls ran", ran)
	}
}
