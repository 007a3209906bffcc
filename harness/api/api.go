// Package api speaks an export API as its profile describes it. It builds every request the run
// sends (declaring and removing a dataset, ingesting records, exporting), adds the API's
// credentials, encodes records as the API takes them, and says how to read its exports: the CSV
// dialect and how a whole export proves itself. This repository's own v1 API is the embedded
// profile profiles.V1 (V1); nothing here knows it otherwise.
package api

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/exportatscale/exportatscale/harness/export"
	"github.com/exportatscale/exportatscale/harness/profile"
	"github.com/exportatscale/exportatscale/profiles"
)

// API is one export API at one address. It is read-only once made and safe for concurrent use.
type API struct {
	p    *profile.Profile
	base string
	cred credentials
	enc  encoding
}

// Secrets looks up the environment variables a profile names for its credentials.
type Secrets func(name string) (string, bool)

// Env is Secrets from the process's environment.
func Env(name string) (string, bool) { return os.LookupEnv(name) }

// Over is s with the given values first: a run that starts the service itself knows the secret it
// gave it.
func Over(values map[string]string, s Secrets) Secrets {
	return func(name string) (string, bool) {
		if v, ok := values[name]; ok {
			return v, true
		}
		return s(name)
	}
}

// New is the API p describes at base (e.g. http://127.0.0.1:8080), with the credentials its auth
// names read from secrets. A secret that is not set is an error naming the variable.
func New(p *profile.Profile, base string, secrets Secrets) (*API, error) {
	cred, err := newCredentials(p.Connection.Auth, secrets)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", p.Name, err)
	}
	enc, err := newEncoding(p)
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", p.Name, err)
	}
	return &API{p: p, base: strings.TrimSuffix(base, "/"), cred: cred, enc: enc}, nil
}

// V1Profile is the embedded profile of this repository's exporter.
func V1Profile() *profile.Profile {
	p, err := profile.Parse("profiles/v1.yaml", profiles.V1)
	if err != nil {
		panic(err) // the embedded file is checked by TestV1 and cannot change at run time
	}
	return p
}

// V1 is this repository's exporter at base, with token as its bearer token ("" sends none).
func V1(base, token string) *API {
	p := V1Profile()
	a, err := New(p, base, Over(map[string]string{p.Connection.Auth.TokenEnv: token}, Env))
	if err != nil {
		panic(err)
	}
	return a
}

// At is the same API at another address, such as one replica of a deployment.
func (a *API) At(base string) *API {
	c := *a
	c.base = strings.TrimSuffix(base, "/")
	return &c
}

// Profile is the profile the API was made from.
func (a *API) Profile() *profile.Profile { return a.p }

// Base is the API's address.
func (a *API) Base() string { return a.base }

// Authorize adds the API's credentials to req. The harness records a request's path before it is
// authorized, so a secret never reaches the evidence.
func (a *API) Authorize(req *http.Request) { a.cred.apply(req) }

// Do sends req, authorized, through hc.
func (a *API) Do(ctx context.Context, hc *http.Client, req *http.Request) (*http.Response, error) {
	a.Authorize(req)
	return hc.Do(req.WithContext(ctx))
}

// credentials are an auth's secrets, read once.
type credentials struct {
	kind, name     string
	token          string // bearer, header, query
	user, password string // basic
}

func newCredentials(a profile.Auth, secrets Secrets) (credentials, error) {
	c := credentials{kind: a.Kind, name: a.Name}
	read := func(env string, out *string) error {
		if env == "" {
			return nil
		}
		v, ok := secrets(env)
		if !ok {
			return fmt.Errorf("auth %s needs $%s, which is not set", a.Kind, env)
		}
		*out = v
		return nil
	}
	for _, s := range []struct {
		env string
		out *string
	}{{a.TokenEnv, &c.token}, {a.UserEnv, &c.user}, {a.PasswordEnv, &c.password}} {
		if err := read(s.env, s.out); err != nil {
			return c, err
		}
	}
	return c, nil
}

func (c credentials) apply(req *http.Request) {
	switch c.kind {
	case "bearer":
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
	case "basic":
		req.SetBasicAuth(c.user, c.password)
	case "header":
		req.Header.Set(c.name, c.token)
	case "query":
		q := req.URL.Query()
		q.Set(c.name, c.token)
		req.URL.RawQuery = q.Encode()
	}
}

// Dialect is how the API writes a CSV export, as the profile says: what the verification parses
// and how it compares each cell with the seeded value.
func (a *API) Dialect() (export.Dialect, error) {
	d := a.p.Export.CSV.Dialect
	zone, err := profile.Type{Zone: d.Timestamps.Zone}.Location()
	if err != nil {
		return export.Dialect{}, fmt.Errorf("export.csv.dialect.timestamps.zone: %w", err)
	}
	step, err := a.p.Types.Timestamp.Step()
	if err != nil {
		return export.Dialect{}, fmt.Errorf("types.timestamp.precision: %w", err)
	}
	out := export.Dialect{
		Header: d.Header, Delimiter: d.Delimiter[0], LF: d.LineEnding == "lf",
		QuoteAll: d.Quoting == "all", QuoteStrings: d.Quoting == "strings", Null: d.Null,
		TimestampLayouts: d.Timestamps.Layouts, TimestampZone: zone, TimestampPrecision: step,
		DecimalsAsNumbers: d.DecimalsAsNumbers, True: d.Bools.True, False: d.Bools.False,
		Guard: d.FormulaGuard == "apostrophe",
	}
	if err := out.Validate(); err != nil {
		return export.Dialect{}, fmt.Errorf("export.csv.dialect: %w", err)
	}
	return out, nil
}

// Proof is how a whole export of the API proves itself, as the profile's integrity says.
func (a *API) Proof() export.Proof {
	in := a.p.Integrity
	return export.Proof{Kind: in.Kind, Digest: in.Digest, Rows: in.Rows}
}
