#!/usr/bin/env bash
# Judges a healthy exporter whose exports are slowed on the way to the harness: the exporter runs
# as a process with the v1 profile's limits, package fake's proxy (fakeexporter --upstream) sits in
# front of it and applies the timing faults given as JSON, and bin/verify judges the proxy as a
# url target. The run must be RED on A3 (a url run also leaves A4 NOT RUN). Used for the margins
# of A3's rules in docs/acceptance.md:
#
#   scenarios/slowed.sh '{"StreamRate":4194304}'                       # every body at 4 MiB/s
#   scenarios/slowed.sh '{"FirstByteDelay":1500000000}'                # first byte held 1.5 s
#   scenarios/slowed.sh '{"DelayEvery":10,"DelayBy":3000000000}'       # 10 % of exports 3 s late
#
# Everything listens on 127.0.0.1; everything it starts is stopped when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
faults=${1:?usage: scenarios/slowed.sh FAULTS-JSON [verify flags...]}
shift
export CGO_ENABLED=0
go build -o bin/exporter ./exporter/cmd/exporter
go build -o bin/fakeexporter ./harness/internal/fake/cmd/fakeexporter
go build -o bin/verify ./scenarios/cmd/verify
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
token=xt-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$token read,write" >"$work/tokens"
exp=$(port)
mkdir "$work/data"
# The exporter's environment is the v1 profile's service env with its limits filled in, as the
# suite starts its own targets (verify --profile-check prints it); only where it listens, its data
# and its tokens are this script's.
vars=()
while IFS= read -r kv; do
	kv=${kv//\{listen\}/127.0.0.1:$exp}
	kv=${kv//\{data_dir\}/$work/data}
	vars+=("${kv//\{tokens_file\}/$work/tokens}")
done < <(bin/verify --profile-check profiles/v1.yaml | sed -n 's/^  \(EXPORTER_[A-Z_]*=.*\)$/\1/p')
env "${vars[@]}" bin/exporter >"$work/exporter.log" 2>&1 &
pids+=($!)
front=$(port)
bin/fakeexporter --listen "127.0.0.1:$front" --upstream "http://127.0.0.1:$exp" --faults-json "$faults" >"$work/proxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
	curl -fs "http://127.0.0.1:$exp/readyz" >/dev/null && curl -fs "http://127.0.0.1:$front/readyz" >/dev/null && break
	sleep 0.2
done
rc=0
bin/verify --target url --url "http://127.0.0.1:$front" --token "$token" "$@" || rc=$?
exit "$rc"
