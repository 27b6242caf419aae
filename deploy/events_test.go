package deploy

import (
	"testing"
	"time"
)

func TestEventLogKeepsTheLastEventsInOrder(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := NewEventLog(3, func() time.Time { now = now.Add(time.Second); return now })
	evs, changed := l.Since(0)
	if len(evs) != 0 {
		t.Fatalf("a new log has %v", evs)
	}
	for i := range 5 {
		l.Add(Event{Kind: EventReplicaStarting, Message: string(rune('a' + i))})
	}
	select {
	case <-changed:
	default:
		t.Error("the channel from Since was not closed by Add")
	}
	evs, _ = l.Since(0)
	if len(evs) != 3 || evs[0].Seq != 3 || evs[2].Seq != 5 || evs[0].Message != "c" || evs[2].Message != "e" {
		t.Fatalf("Since(0) = %+v; want events 3 to 5, oldest first", evs)
	}
	if evs[0].Level != "info" || !evs[0].Time.Equal(time.Unix(1_800_000_003, 0)) {
		t.Errorf("event 3 = %+v; want level info and the injected clock's time", evs[0])
	}
	if evs, _ := l.Since(4); len(evs) != 1 || evs[0].Seq != 5 {
		t.Errorf("Since(4) = %+v", evs)
	}
	if evs, _ := l.Since(5); len(evs) != 0 {
		t.Errorf("Since(5) = %+v; want none", evs)
	}
}
