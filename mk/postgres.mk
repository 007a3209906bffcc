# PostgreSQL, for the exporter's PostgreSQL store: the store tests run over it (EXPORTER_TEST_STORE=
# postgres), as do the cluster target and the benchmarks. Only Debian's server binaries are needed:
# every user starts a throwaway cluster of its own (internal/pgtmp: initdb as an unprivileged user,
# a temporary directory, a loopback port), never the package's service.

.PHONY: tools-postgres

tools-postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends postgresql postgresql-client)
	@$$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/postgres --version
