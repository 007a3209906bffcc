# The deployment past one machine (docs/deployment.md): HAProxy 2.6 from Debian, as a host process on
# loopback in front of the exporter replicas (deploy/haproxy.cfg). PostgreSQL's server comes from
# Debian's postgresql package, as for the store's own tests. Included from the root Makefile;
# `make verify-cluster` and `make unit` install HAProxy first; without it the run is NOT RUN (and
# fails), and the cluster test fails.

.PHONY: tools-haproxy verify-cluster

tools-haproxy:
	@command -v haproxy >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends haproxy)
	@haproxy -v | head -n 1

# The cluster test of harness/target runs in `make unit`, and fails without HAProxy.
unit: tools-haproxy
