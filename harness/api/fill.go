package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/exportatscale/exportatscale/harness/profile"
)

// value is what a placeholder stands for: its text, and, where a JSON body holds the placeholder
// as a whole string, the JSON value it becomes (nil: the text).
type value struct {
	text string
	json any
}

type values map[string]value

func text(s string) value { return value{text: s} }

// placeholder is {name} in a template string; profile.Load has checked that every one a template
// names is filled by its kind.
var placeholder = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// fill replaces each placeholder of s by its text, passed through escape.
func (v values) fill(s string, escape func(string) string) string {
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		return escape(v[m[1:len(m)-1]].text)
	})
}

func same(s string) string { return s }

// body fills a body template: a string whole is filled as text; a mapping or list is filled
// value by value (keys too), a string that is one placeholder alone taking that placeholder's
// JSON value.
func (v values) body(t any) any {
	switch t := t.(type) {
	case string:
		if m := placeholder.FindStringSubmatchIndex(t); m != nil && m[0] == 0 && m[1] == len(t) {
			if val := v[t[m[2]:m[3]]]; val.json != nil {
				return val.json
			}
		}
		return v.fill(t, same)
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = v.body(x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[v.fill(k, same)] = v.body(x)
		}
		return out
	}
	return t
}

// bodyText is a filled body as sent: a string as it is, anything else as JSON.
func (v values) bodyText(t any) ([]byte, error) {
	if t == nil {
		return nil, nil
	}
	if s, ok := t.(string); ok {
		return []byte(v.fill(s, same)), nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v.body(t)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// request builds the request t describes, filled with v, without credentials. A query parameter
// whose text is empty once filled is not sent: an option the run does not set leaves it out.
func (a *API) request(ctx context.Context, t profile.Request, v values) (*http.Request, error) {
	body, err := v.bodyText(t.Body)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(a.base + v.fill(t.Path, url.PathEscape))
	if err != nil {
		return nil, fmt.Errorf("request path: %w", err)
	}
	q := u.Query()
	for k, s := range t.Query {
		if f := v.fill(s, same); f != "" {
			q.Set(k, f)
		}
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, t.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, s := range t.Headers {
		req.Header.Set(k, v.fill(s, same))
	}
	return req, nil
}

// joined is names as one placeholder's text, comma-separated.
func joined(names []string) string { return strings.Join(names, ",") }
