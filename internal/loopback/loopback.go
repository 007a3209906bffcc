// Package loopback hands out free TCP ports on 127.0.0.1, for the servers the tests, the targets
// and the throwaway database start.
package loopback

import "net"

// FreePort asks the kernel for a free port on 127.0.0.1. Another process could take it before the
// caller binds it; the caller's server then fails to start and says so.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
