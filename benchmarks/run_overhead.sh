#!/usr/bin/env bash
# What a gateway adds, side by side in ONE run (these machines are noisy: compare within a run only).
# Gateways on CPU 0, wrk on CPU 1; JSON and SSE (8 content chunks + usage) at 1 and 32 connections, against:
#   direct           the nginx mock upstream (harness/nginx-mock.conf)
#   ceiling          thin proxy, aiohttp client as first measured (harness/thin_proxy.py)
#   ceiling-tuned    the same with aiohttp's per-request work removed
#   ceiling-reqwest  the same on pyreqwest (Rust client)
#   stream-proxy     thin proxy that passes the upstream's bytes through as they arrive (aiohttp)
#   each gateway of GATEWAYS, then a Markdown table per case with ratios (harness/report.py).
#
#   bash benchmarks/run_overhead.sh
#   GATEWAYS="unigate=. before=main" bash benchmarks/run_overhead.sh   # this tree next to a git rev
#   (a GATEWAYS entry may also name a source folder: "exp=/tmp/src" runs /tmp/src/unigate)
# Each gateway gets its own data_dir and a virtual key with a monthly budget, made through its admin
# API with BENCH_MASTER (the config's master key): the default features all run on every request.
# env: DURATION (s per wrk run, 10), ROUNDS (sweeps; the report takes each figure's median, 1), BENCH_CONFIG (gateway config, benchmarks/bench.yaml), BENCH_MASTER,
#      UNIGATE_PYTHON (interpreter with unigate's deps, $repo/.venv/bin/python), WITH_LITELLM=1,
#      RESULTS (raw result lines, /tmp/unigate-bench-results.txt)
# The thin proxies run from a venv built from PyPI in /tmp/unigate-bench-ceiling on first use.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
here=$repo/benchmarks/harness
py=${UNIGATE_PYTHON:-$repo/.venv/bin/python}
config=${BENCH_CONFIG:-$repo/benchmarks/bench.yaml}
dur=${DURATION:-10}
rounds=${ROUNDS:-1}
results=${RESULTS:-/tmp/unigate-bench-results.txt}
read -r -a gateways <<< "${GATEWAYS:-unigate=.}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk nginx-light >/dev/null; }
curl -sf -o /dev/null -XPOST 127.0.0.1:18080/v1/chat/completions -d '{}' || nginx -c "$here/nginx-mock.conf"
venv=/tmp/unigate-bench-ceiling
[ -x $venv/bin/uvicorn ] || { python3 -m venv $venv && $venv/bin/pip install -q uvicorn uvloop httptools aiohttp orjson pyreqwest; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_up() { for _ in $(seq 150); do curl -sf -o /dev/null "$@" && return; sleep 0.2; done; echo "not up: $1" >&2; exit 1; }

gateway_pids=()
targets=()  # NAME=BASE_URL (the JSON model / route is chosen per mode below)
proxy() {  # NAME PORT CLIENT MODE
  (cd "$here" && THIN_CLIENT=$3 THIN_MODE=$4 exec taskset -c 0 $venv/bin/uvicorn thin_proxy:app --port "$2" \
    --loop uvloop --http httptools --no-access-log --log-level warning) & pids+=($!)
  targets+=("$1=http://127.0.0.1:$2")
}
proxy ceiling 14100 aiohttp rewrite
proxy ceiling-tuned 14102 aiohttp-tuned rewrite
proxy ceiling-reqwest 14101 reqwest rewrite
proxy stream-proxy 14103 aiohttp pipe

port=4000
for spec in "${gateways[@]}"; do
  name=${spec%%=*} rev=${spec#*=} src=$repo/src
  if [ -d "$rev/unigate" ]; then  # a source folder (e.g. a scratch copy with an experiment)
    src=$rev
  elif [ "$rev" != . ]; then  # another version of the gateway, exported from git (the repo is not touched)
    src=/tmp/unigate-bench-src-$name && rm -rf "$src" && mkdir -p "$src"
    git -C "$repo" archive "$rev" src | tar -x -C "$src" --strip-components=1
  fi
  data=/tmp/unigate-bench-data-$name && rm -rf "$data" && mkdir -p "$data"  # its own ledger and journal
  { cat "$config"; echo "data_dir: $data"; } > "$data/bench.yaml"
  PYTHONPATH=$src${PYTHONPATH:+:$PYTHONPATH} UNIGATE_LOG_LEVEL=WARNING taskset -c 0 "$py" -m unigate.cli serve -c "$data/bench.yaml" \
    --port $port --no-local > "/tmp/unigate-bench-$name.log" 2>&1 & pids+=($!)
  gateway_pids+=("$name=$!")
  targets+=("$name=http://127.0.0.1:$port")
  port=$((port + 1))
done
if [ "${WITH_LITELLM:-0}" = 1 ]; then
  lv=/tmp/unigate-bench-litellm
  [ -x $lv/bin/litellm ] || { python3 -m venv $lv && $lv/bin/pip install -q 'litellm[proxy]'; }
  (cd "$here" && LITELLM_LOCAL_MODEL_COST_MAP=True exec taskset -c 0 $lv/bin/litellm --config litellm.yaml \
    --port 14000 --num_workers 1 > /tmp/unigate-bench-litellm.log 2>&1) & pids+=($!)
  targets+=("litellm=http://127.0.0.1:14000")
fi
for t in "${targets[@]}"; do
  case ${t%%=*} in
    litellm) wait_up "${t#*=}/health/liveliness" ;;
    ceiling* | stream-proxy) wait_up "${t#*=}/" -XPOST -d '{"model":"x"}' ;;
    *) wait_up "${t#*=}/health/live" ;;
  esac
done

# each gateway is called with a virtual key of its own, with a budget (the thin proxies ignore it)
declare -A keys=()
for g in "${gateway_pids[@]}"; do
  for t in "${targets[@]}"; do
    [ "${t%%=*}" = "${g%%=*}" ] || continue
    keys[${g%%=*}]=$(curl -sf -XPOST "${t#*=}/admin/keys" -H "authorization: Bearer ${BENCH_MASTER:-sk-bench-master}" \
      -H 'content-type: application/json' -d '{"name":"bench","budget":1000000,"budget_period":"month","rpm":1000000000}' \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
  done
done

run() {  # MODE CONNECTIONS NAME URL
  local stream=0 model=gpt-4o-mini key=${keys[$3]:-${BENCH_KEY:-sk-bench}}
  [ "$1" = sse ] && stream=1 && model=gpt-4o-mini-stream
  [ "$3" = litellm ] && model=gpt-4o-mini key=sk-bench
  BENCH_KEY=$key BENCH_STREAM=$stream BENCH_MODEL=$model taskset -c 1 wrk -t1 -c"$2" -d"${dur}s" --timeout 10s -s "$here/wrk.lua" "$4" \
    | grep RESULT | sed "s/^RESULT/$1 $2 $3/" | tee -a "$results"
}
: > "$results"
echo "# $(date -u +%FT%TZ) $(git -C "$repo" rev-parse --short HEAD) DURATION=$dur ROUNDS=$rounds GATEWAYS=\"${gateways[*]}\""
for round in $(seq "$rounds"); do  # rounds spread each target's runs over time: a burst of load elsewhere
  for mode in json sse; do       # lands on one of them, and the report takes the median
    for c in 1 32; do
      direct=http://127.0.0.1:18080/v1/chat/completions
      [ $mode = sse ] && direct=http://127.0.0.1:18080/stream/v1/chat/completions
      run $mode $c direct $direct
      for t in "${targets[@]}"; do run $mode $c "${t%%=*}" "${t#*=}/v1/chat/completions"; done
    done
  done
done
for g in "${gateway_pids[@]}"; do
  # context switches of all its threads (a helper thread preempting the loop shows up here)
  switches=$(cat /proc/"${g#*=}"/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}')
  served=$(awk -v n="${g%%=*}" '$3 == n {sub("total=", "", $10); s += $10} END {print s + 0}' "$results")
  echo "# ${g%%=*} RSS after the runs: $(awk '/VmRSS/ {printf "%.0f MB", $2/1024}' "/proc/${g#*=}/status");" \
    "context switches: $switches ($(awk -v s="$switches" -v r="$served" 'BEGIN {printf "%.2f", r ? s / r : 0}') per request served)"
done
echo
python3 "$here/report.py" "$results"
