#!/usr/bin/env bash
# The A/B series of the regression check (docs/acceptance.md, "The regression check"): N runs
# (default 10) of bin/verify with a candidate judged against a baseline deployment in the same run,
# then N healthy-against-healthy runs, the last 3 of them beside a CPU-heavy process (a busy loop,
# bounded by the run). Every exporter is this repository's, started as a process with the v1
# profile's limits; each sits behind package fake's slowing proxy (fakeexporter --upstream), so the two
# sides differ only by the proxy's fault:
#
#   slowed   candidate proxy {"HoldBack":0.3} (every export 30 % slower)  → must be RED on regression
#   healthy  candidate proxy {}                                           → must be GREEN on regression
#
# It prints one line per run with the regression check's status and figures, and a summary.
# Not part of `make test`: 2N runs take a while (each a whole acceptance run at small sizes).
#
#   scenarios/ab-series.sh            # 10 + 10 runs
#   RUNS=3 scenarios/ab-series.sh     # fewer
#   VERIFY_EXTRA="--compare-pairs 80" scenarios/ab-series.sh
#
# Everything listens on 127.0.0.1; everything it starts is stopped when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-10}
busy_runs=${BUSY_RUNS:-3}
export CGO_ENABLED=0
go build -o bin/exporter ./exporter/cmd/exporter
go build -o bin/fakeexporter ./harness/internal/fake/cmd/fakeexporter
go build -o bin/verify ./scenarios/cmd/verify
work=$(mktemp -d)
series=ab-$(date -u +%Y%m%dT%H%M%SZ)
# Every process started is listed in $work/pids, so that stop_all finds it from any subshell (the
# runs go through a pipe, and a start's URL through command substitution).
track() { echo "$1" >>"$work/pids"; }
stop_all() {
	[ -f "$work/pids" ] || return 0
	local p
	while read -r p; do kill "$p" 2>/dev/null || true; done <"$work/pids"
	while read -r p; do
		while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
	done <"$work/pids"
	: >"$work/pids"
}
trap 'stop_all; rm -rf "$work"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
token=xt-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$token read,write" >"$work/tokens"

# The exporters' environment: the v1 profile's service env with its limits filled in, as the suite
# starts its own targets (verify --profile-check prints it).
profile_env=$(bin/verify --profile-check profiles/v1.yaml | sed -n 's/^  \(EXPORTER_[A-Z_]*=.*\)$/\1/p')

# exporter_behind_proxy FAULTS NAME: starts an exporter and a proxy in front of it; prints the proxy's URL.
exporter_behind_proxy() {
	local exp front dir=$work/$2
	mkdir -p "$dir/data"
	exp=$(port)
	local vars=() kv
	while IFS= read -r kv; do
		kv=${kv//\{listen\}/127.0.0.1:$exp}
		kv=${kv//\{data_dir\}/$dir/data}
		vars+=("${kv//\{tokens_file\}/$work/tokens}")
	done <<<"$profile_env"
	env "${vars[@]}" bin/exporter >"$dir/exporter.log" 2>&1 &
	track $!
	front=$(port)
	bin/fakeexporter --listen "127.0.0.1:$front" --upstream "http://127.0.0.1:$exp" --faults-json "$1" >"$dir/proxy.log" 2>&1 &
	track $!
	for _ in $(seq 100); do
		curl -fs "http://127.0.0.1:$exp/readyz" >/dev/null && curl -fs "http://127.0.0.1:$front/readyz" >/dev/null && break
		sleep 0.2
	done
	echo "http://127.0.0.1:$front"
}

# figures DIR: the regression check's status and each measure's effect, from the run's evidence.json.
figures() {
	python3 - "$1/evidence.json" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"no evidence ({e})"); sys.exit()
c = next((c for c in r["checks"] if c["id"] == "regression"), None)
out = [f"verdict {r.get('verdict')}", f"regression {c['status'] if c else 'absent'}"]
for m in (r.get("ab") or {}).get("measures", []):
    if m.get("ratio"):
        out.append(f"{m['name'].split('_')[0]} {m['ratio']:.3f}x [{m['low']:.3f}-{m['high']:.3f}] p={m['p']:.2g} pU={m['p_unpaired']:.2g} n={len(m['candidate'])} {m['verdict']}")
    else:
        out.append(f"{m['name'].split('_')[0]} untested")
print(" | ".join(out))
EOF
}

# one KIND I BUSY: one verify run; KIND is slowed or healthy, BUSY 1 runs a busy loop beside it.
one() {
	local faults='{}' cand base id=$series-$1-$2 busy=
	[ "$1" = slowed ] && faults='{"HoldBack":0.3}'
	cand=$(exporter_behind_proxy "$faults" "$id-cand")
	base=$(exporter_behind_proxy '{}' "$id-base")
	if [ "$3" = 1 ]; then
		timeout 900 sh -c 'while :; do :; done' &
		busy=$!
	fi
	# Smaller than the default run (the series is 20 runs), the A/B comparison at its defaults.
	bin/verify --quiet --target url --url "$cand" --token "$token" --compare-url "$base" \
		--smoke-rows 300 --load-requests 24 --large-rows 20000 --run-id "$id" ${VERIFY_EXTRA:-} \
		>"$work/$id.out" 2>&1 || true
	[ -n "$busy" ] && { kill "$busy" 2>/dev/null || true; wait "$busy" 2>/dev/null || true; }
	stop_all
	printf '%-8s %2d %-4s %s\n' "$1" "$2" "$([ "$3" = 1 ] && echo busy || echo -)" "$(figures "evidence/out/$id")"
}

echo "series $series: $runs slowed runs, $runs healthy runs ($busy_runs beside a busy loop); evidence in evidence/out/$series-*"
printf '%-8s %2s %-4s %s\n' kind run cpu "figures (ratio candidate/baseline [95% CI], signed-rank p, unpaired U p, pairs)"
for i in $(seq "$runs"); do one slowed "$i" 0; done | tee "$work/slowed.txt"
for i in $(seq "$runs"); do one healthy "$i" "$([ "$i" -gt $((runs - busy_runs)) ] && echo 1 || echo 0)"; done | tee "$work/healthy.txt"
red=$(grep -c 'regression failed' "$work/slowed.txt" || true)
green=$(grep -c 'regression passed' "$work/healthy.txt" || true)
echo "slowed:  RED on regression in $red of $runs (must be at least $(((runs * 9 + 9) / 10)))"
echo "healthy: regression passed in $green of $runs (must be $runs)"
[ "$red" -ge $(((runs * 9 + 9) / 10)) ] && [ "$green" -eq "$runs" ]
