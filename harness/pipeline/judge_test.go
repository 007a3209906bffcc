package pipeline

import (
	"slices"
	"strings"

	"github.com/exportatscale/exportatscale/evidence"
	"github.com/exportatscale/exportatscale/harness/api"
	"github.com/exportatscale/exportatscale/harness/profile"
)

func hasMeasure(c evidence.Check, name string) bool {
	return slices.ContainsFunc(c.Measures, func(m evidence.Measure) bool { return m.Name == name })
}

// v1Caps are what the v1 API declares.
func v1Caps() profile.Capabilities { return api.V1Profile().Capabilities() }

// mentions reports whether text is in one of lines, as a check's failures or notes: always, for no
// text.
func mentions(lines []string, text string) bool {
	return text == "" || slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, text) })
}
