// Package ratelimit parses the headers an exporter answers a refused request with: Retry-After
// (RFC 9110 §10.2.3) and the IETF draft's RateLimit and RateLimit-Policy structured fields
// (RFC 8941 lists of items). It is the one parser the harness judges and honours them with, so a
// header the assertions call valid is one the seeder can follow, and the reverse.
package ratelimit

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryAfter parses a Retry-After value: delay-seconds (one or more digits, nothing else) or an
// HTTP-date, which becomes the time left until it (never negative). ok is false for anything
// else, "5abc", "+5", "-1" and "" included.
func RetryAfter(v string) (d time.Duration, ok bool) {
	if isDigits(v) {
		n, err := strconv.Atoi(v)
		if err != nil { // out of range
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// ValidPolicy reports whether v is a RateLimit-Policy field as the contract documents it: a list
// of policies, each a quoted name with non-negative integer parameters q (quota) and w (window,
// seconds), e.g. `"client";q=50;w=1`. Other parameters are allowed.
func ValidPolicy(v string) bool { return validList(v, "q", "w") }

// ValidRateLimit reports whether v is a RateLimit field as the contract documents it: a list of
// quoted policy names with non-negative integer parameters r (remaining) and t (seconds until
// reset), e.g. `"client";r=0;t=1`. Other parameters are allowed.
func ValidRateLimit(v string) bool { return validList(v, "r", "t") }

// validList reports whether v is a structured-field list of string items, each with the
// required parameters as non-negative integers.
func validList(v string, required ...string) bool {
	p := &parser{s: v}
	p.skip(" ")
	for {
		if _, ok := p.str(); !ok {
			return false
		}
		params, ok := p.params()
		if !ok {
			return false
		}
		for _, k := range required {
			if n, isInt := params[k].(int64); !isInt || n < 0 {
				return false
			}
		}
		p.skip(" \t")
		if p.done() {
			return true
		}
		if !p.eat(',') {
			return false
		}
		p.skip(" \t")
		if p.done() {
			return false // a trailing comma
		}
	}
}

// parser reads RFC 8941 bare items and parameters from s.
type parser struct {
	s string
	i int
}

func (p *parser) done() bool { return p.i == len(p.s) }

func (p *parser) peek() byte {
	if p.done() {
		return 0
	}
	return p.s[p.i]
}

func (p *parser) eat(c byte) bool {
	if p.peek() == c && !p.done() {
		p.i++
		return true
	}
	return false
}

func (p *parser) skip(set string) {
	for !p.done() && inSet(set, p.s[p.i]) {
		p.i++
	}
}

// params reads ";key[=value]" parameters; a key without a value is true.
func (p *parser) params() (map[string]any, bool) {
	out := map[string]any{}
	for p.eat(';') {
		p.skip(" ")
		k, ok := p.key()
		if !ok {
			return nil, false
		}
		var v any = true
		if p.eat('=') {
			if v, ok = p.bare(); !ok {
				return nil, false
			}
		}
		out[k] = v
	}
	return out, true
}

func (p *parser) key() (string, bool) {
	start := p.i
	if c := p.peek(); !(c >= 'a' && c <= 'z' || c == '*') {
		return "", false
	}
	p.i++
	for c := p.peek(); c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || inSet("_-.*", c); c = p.peek() {
		p.i++
	}
	return p.s[start:p.i], true
}

// bare reads one bare item: an integer (int64), a decimal, a string, a token, a byte sequence or
// a boolean; only integers keep their value, the rest are checked for shape.
func (p *parser) bare() (any, bool) {
	switch c := p.peek(); {
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == '"':
		_, ok := p.str()
		return nil, ok
	case c == '?':
		p.i++
		if !p.eat('0') && !p.eat('1') {
			return nil, false
		}
		return true, true
	case c == ':':
		p.i++
		for c := p.peek(); c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || inSet("+/=", c); c = p.peek() {
			p.i++
		}
		return nil, p.eat(':')
	case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '*':
		p.i++
		for c := p.peek(); c > ' ' && c < 0x7f && !inSet(`"(),;<=>?@[\]{}`, c); c = p.peek() {
			p.i++
		}
		return nil, true
	}
	return nil, false
}

// number reads an sf-integer (at most 15 digits) or an sf-decimal (at most 12.3 digits).
func (p *parser) number() (any, bool) {
	start := p.i
	p.eat('-')
	digits := p.digits()
	if digits == 0 || digits > 15 {
		return nil, false
	}
	if !p.eat('.') {
		n, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
		return n, err == nil
	}
	if frac := p.digits(); digits > 12 || frac == 0 || frac > 3 {
		return nil, false
	}
	return nil, true
}

func (p *parser) digits() int {
	n := 0
	for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
		p.i++
		n++
	}
	return n
}

// str reads an sf-string: printable ASCII in double quotes, with \" and \\ the only escapes.
func (p *parser) str() (string, bool) {
	if !p.eat('"') {
		return "", false
	}
	var out []byte
	for !p.done() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '"':
			return string(out), true
		case c == '\\':
			if n := p.peek(); n != '"' && n != '\\' {
				return "", false
			}
			out = append(out, p.s[p.i])
			p.i++
		case c < ' ' || c > '~':
			return "", false
		default:
			out = append(out, c)
		}
	}
	return "", false // unterminated
}

func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

func inSet(set string, c byte) bool { return strings.IndexByte(set, c) >= 0 }
