package testkit

import (
	"reflect"
	"testing"
)

// EnvFlagCase is one case of a test of flags whose defaults come from environment variables: the
// variables set, the arguments given, and what is wanted, either the defaults as Want changes
// them or an error naming WantErr.
type EnvFlagCase[C any] struct {
	Name    string
	Env     map[string]string
	Args    []string
	Want    func(*C) // applied to the defaults
	WantErr string
}

// RunEnvFlagCases runs each case as a subtest: exactly its prefix_* variables set (SetEnv), the
// config parse makes of its arguments, compared with defaults() as the case's Want changes it, or
// the error parse returns, which must name WantErr.
func RunEnvFlagCases[C any](t *testing.T, prefix string, defaults func() C, parse func(args []string) (C, error), cases []EnvFlagCase[C]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			SetEnv(t, prefix, tc.Env)
			got, err := parse(tc.Args)
			if WantErr(t, err, tc.WantErr) {
				return
			}
			want := defaults()
			tc.Want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("parsed\n got %+v\nwant %+v", got, want)
			}
		})
	}
}
