package ratelimit_test

import (
	"testing"

	"github.com/dunglas/httpsfv"

	"github.com/exportatscale/exportatscale/harness/internal/ratelimit"
)

// FuzzFields: ValidPolicy and ValidRateLimit take any input without panicking, and agree with a
// round trip through httpsfv: a field they parse means the same once re-serialized, and a field
// httpsfv serializes from a policy name and two integers is valid exactly when both are
// non-negative.
func FuzzFields(f *testing.F) {
	for _, s := range []string{
		`"client";q=50;w=1`, `"client";r=0;t=1`, `"client";q=50;w=1, "daily";q=1000;w=86400`,
		`"client";r=12;t=0;x=?1;pk=:YWJj:;d=@1700000000;s=%"caf%c3%a9"`, `("a" "b");r=1;t=1`, `"c";r=1.5;t=1`,
		`client;q=50;w=1`, `"client";q=-1;w=1`, ``,
	} {
		f.Add(s, "client", int64(50), int64(1))
	}
	f.Fuzz(func(t *testing.T, v, policy string, a, b int64) {
		policyOK, rateOK := ratelimit.ValidPolicy(v), ratelimit.ValidRateLimit(v)
		if l, err := httpsfv.UnmarshalList([]string{v}); err == nil {
			again, err := httpsfv.Marshal(l)
			if err != nil {
				t.Fatalf("%q parses but does not serialize: %v", v, err)
			}
			if ratelimit.ValidPolicy(again) != policyOK || ratelimit.ValidRateLimit(again) != rateOK {
				t.Errorf("%q is %v/%v, re-serialized as %q %v/%v", v, policyOK, rateOK, again,
					ratelimit.ValidPolicy(again), ratelimit.ValidRateLimit(again))
			}
		} else if policyOK || rateOK {
			t.Errorf("%q does not parse (%v) but is valid", v, err)
		}

		for _, c := range []struct {
			valid func(string) bool
			p, q  string
		}{{ratelimit.ValidPolicy, "q", "w"}, {ratelimit.ValidRateLimit, "r", "t"}} {
			it := httpsfv.NewItem(policy)
			it.Params.Add(c.p, a)
			it.Params.Add(c.q, b)
			field, err := httpsfv.Marshal(httpsfv.List{it})
			if err != nil {
				continue // a name or an integer a field cannot carry
			}
			if got, want := c.valid(field), a >= 0 && b >= 0; got != want {
				t.Errorf("%q: valid %v, want %v", field, got, want)
			}
		}
	})
}
