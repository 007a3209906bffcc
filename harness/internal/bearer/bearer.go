// Package bearer sends the harness's own requests to an exporter (seeding, exports): with the
// target's bearer token, through the caller's client or the package's default one, so the seed
// and export clients authenticate and choose their client alike.
package bearer

import "net/http"

// Do sends req with token as its bearer credentials (an empty token sends no Authorization
// header, for a target that asks for none) through hc, or through fallback() when hc is nil: the
// default is made only when it is used.
func Do(req *http.Request, token string, hc *http.Client, fallback func() *http.Client) (*http.Response, error) {
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if hc == nil {
		hc = fallback()
	}
	return hc.Do(req)
}
