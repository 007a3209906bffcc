// Package proxytest proves the harness against a real front proxy: its tests start Debian's
// nginx 1.22 on loopback, with deploy/nginx-1.27.conf less the one directive 1.22 rejects
// (proxy_pass_trailers), in front of the real exporter (started as a process through the suite's
// process target) and run the suite's pipeline through it. nginx before 1.27.2 drops the
// upstream's HTTP trailers, so every CSV export arrives whole and right but without its
// Content-Digest and Export-Rows: A1 must be RED and say that an intermediary stripped them,
// rather than blame the exporter. The tests fail, never skip, where nginx is not installed
// (make tools-nginx installs it).
package proxytest
