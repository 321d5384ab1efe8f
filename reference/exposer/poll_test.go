package exposer

import (
	"context"
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

func TestNextIntervalGrowsToVelerosTwoSeconds(t *testing.T) {
	var got []time.Duration
	for d := 250 * time.Millisecond; len(got) < 8; d = nextInterval(250*time.Millisecond, d) {
		got = append(got, d)
	}
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	want := []time.Duration{ms(250), ms(375), ms(562.5), ms(843.75), ms(1265.625), ms(1898.4375), 2 * time.Second, 2 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("intervals %v, want %v", got, want)
		}
	}
}

func TestPollUntil(t *testing.T) {
	e := New(nil, WithPollInterval(time.Millisecond))
	calls := 0
	err := e.pollUntil(context.Background(), time.Minute, func(context.Context) (bool, error) { calls++; return calls == 3, nil })
	if err != nil || calls != 3 {
		t.Errorf("a condition met at the third look: %v after %d looks", err, calls)
	}
	boom := errors.New("boom")
	if err := e.pollUntil(context.Background(), time.Minute, func(context.Context) (bool, error) { return false, boom }); !errors.Is(err, boom) {
		t.Errorf("a failing condition: %v, want its error", err)
	}
	if err := e.pollUntil(context.Background(), 20*time.Millisecond, func(context.Context) (bool, error) { return false, nil }); !wait.Interrupted(err) {
		t.Errorf("a condition never met: %v, want an interruption", err)
	}
}
