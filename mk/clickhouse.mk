# ClickHouse, the first third-party export service a profile describes (profiles/clickhouse.yaml):
# Debian 12's clickhouse-server (18.16). Only the package's binary is needed: harness/target's
# StartService runs it as a process on loopback from a temporary directory with the profile's own
# config.xml and users.xml, never the package's service. Debian installs it in /usr/sbin. Included
# from the root Makefile; `make unit` installs it first, and the service test fails (never skips)
# without it.

.PHONY: tools-clickhouse

tools-clickhouse:
	@command -v clickhouse-server >/dev/null || [ -x /usr/sbin/clickhouse-server ] || \
		($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends clickhouse-server)
	@dpkg-query -W -f '$${Package} $${Version}\n' clickhouse-server 2>/dev/null || echo "clickhouse-server: $$(command -v clickhouse-server || echo /usr/sbin/clickhouse-server)"

unit: tools-clickhouse
