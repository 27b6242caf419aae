package testenv

import (
	"testing"
	"time"
)

// pollEvery is how often Eventually and WaitFor check their condition.
const pollEvery = 10 * time.Millisecond

// Eventually polls cond every few milliseconds until it holds or the
// deadline passes, and reports whether it held.
func Eventually(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollEvery)
	}
}

// WaitFor polls cond until it holds; if it still does not after within, it
// fails t with a message naming what was awaited ("timed out after 5s
// waiting for <what>").
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Eventually(within, cond) {
		t.Fatalf("timed out after %v waiting for %s", within, what)
	}
}
