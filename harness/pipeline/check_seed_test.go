package pipeline

import (
	"testing"
	"time"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/internal/testkit"
)

// TestJudgeSeedUnstorable: a value the API cannot hold as seeded fails the seed check, named by
// record and field.
func TestJudgeSeedUnstorable(t *testing.T) {
	c := judgeSeed(testkit.Thresholds(t), seeding{Records: 10, Took: time.Second})
	if c.Status != evidence.StatusPassed {
		t.Fatalf("all storable: %+v", c)
	}
	c = judgeSeed(testkit.Thresholds(t), seeding{Records: 9, Took: time.Second,
		Unstorable: []string{"record 7, trade_ts: 2200-01-01T00:00:00Z is after the latest instant DateTime holds (2105-12-31T23:59:59Z)"}})
	if c.Status != evidence.StatusFailed || !mentions(c.Failures, "record 7, trade_ts") {
		t.Errorf("unstorable: %+v", c)
	}
}
