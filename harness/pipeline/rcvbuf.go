package pipeline

import (
	"net"
	"net/http"
	"syscall"
	"time"
)

// stallReceiveBuffer is the receive buffer of the stalled reader's connections: small, so an
// exporter that never cuts a stalled reader off cannot finish the export into the client's socket
// buffer (Linux grows an unset one up to net.ipv4.tcp_rmem's maximum, 32 MiB here).
const stallReceiveBuffer = 64 << 10

// smallReceiveBuffer is a transport whose connections have a stallReceiveBuffer receive buffer.
func smallReceiveBuffer() *http.Transport {
	d := &net.Dialer{Timeout: 30 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = setReceiveBuffer(fd, stallReceiveBuffer) })
		if err != nil {
			return err
		}
		return serr
	}}
	return &http.Transport{DialContext: d.DialContext, DisableCompression: true, DisableKeepAlives: true}
}
