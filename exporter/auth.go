package exporter

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"os"
	"strings"
)

// scope is a permission a token carries.
type scope uint8

const (
	scopeRead scope = 1 << iota
	scopeWrite
)

type tokenEntry struct {
	sum    [sha256.Size]byte // of the token: equal length for every comparison
	scopes scope
}

// tokens is the parsed tokens file. A nil *tokens means auth is off.
type tokens struct{ entries []tokenEntry }

// loadTokens reads a tokens file: one `<token> <scopes>` per line, scopes read, write or read,write;
// blank lines and text after # are ignored.
func loadTokens(path string) (*tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	defer f.Close()
	t, err := parseTokens(f)
	if err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	return t, nil
}

func parseTokens(r io.Reader) (*tokens, error) {
	t := &tokens{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 {
			return nil, fmt.Errorf("line %d: want `<token> <scopes>`", n)
		}
		if len(fields[0]) < 8 {
			return nil, fmt.Errorf("line %d: token shorter than 8 characters", n)
		}
		var sc scope
		for _, s := range strings.Split(fields[1], ",") {
			switch s {
			case "read":
				sc |= scopeRead
			case "write":
				sc |= scopeWrite
			default:
				return nil, fmt.Errorf("line %d: scope %q is not read or write", n, s)
			}
		}
		t.entries = append(t.entries, tokenEntry{sha256.Sum256([]byte(fields[0])), sc})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(t.entries) == 0 {
		return nil, fmt.Errorf("no tokens")
	}
	return t, nil
}

// lookup compares the SHA-256 of the presented token with that of every entry in constant time, so
// the time taken tells neither how much of a token matched, nor its length, nor which entry did.
func (t *tokens) lookup(presented string) (scope, bool) {
	var found scope
	ok := 0
	p := sha256.Sum256([]byte(presented))
	for _, e := range t.entries {
		m := subtle.ConstantTimeCompare(p[:], e.sum[:])
		found |= scope(subtle.ConstantTimeSelect(m, int(e.scopes), 0))
		ok |= m
	}
	return found, ok == 1
}
