#!/usr/bin/env bash
# Gateway overhead next to the direct nginx mock and the ceiling proxy (and LiteLLM with WITH_LITELLM=1),
# JSON and streaming, one pinned core each (gateway on CPU 0, wrk on CPU 1).
#   bash benchmarks/run_overhead.sh            # DURATION=10 by default
# Extra env for the gateway process (e.g. a config with keys/ledger) via BENCH_CONFIG=path.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bench=${UNIGATE_SHARED:-$repo/../shared}/bench
config=${BENCH_CONFIG:-$repo/benchmarks/bench.yaml}
port=${BENCH_PORT:-4000}
dur=${DURATION:-10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk nginx-light >/dev/null; }
curl -sf -o /dev/null -XPOST 127.0.0.1:18080/v1/chat/completions -d '{}' || nginx -c "$bench/nginx-mock.conf"

UNIGATE_LOG_LEVEL=WARNING taskset -c 0 "$repo/.venv/bin/unigate" serve -c "$config" --port "$port" --no-local \
  > /tmp/unigate-bench-gateway.log 2>&1 &
gw=$!
trap 'kill $gw 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf -o /dev/null "127.0.0.1:$port/health/live" && break; sleep 0.1; done

echo "# JSON (non-streaming)"
DURATION=$dur BENCH_MODEL=gpt-4o-mini bash "$bench/overhead.sh" "http://127.0.0.1:$port/v1/chat/completions" unigate

echo "# streaming (SSE: 8 content chunks + usage)"
for c in 1 32; do
  taskset -c 1 wrk -t1 -c$c -d${dur}s --timeout 10s -s "$bench/stream.lua" http://127.0.0.1:18080/stream/v1/chat/completions \
    | grep RESULT | sed "s/^RESULT/direct-stream c=$c/"
  BENCH_MODEL=gpt-4o-mini-stream taskset -c 1 wrk -t1 -c$c -d${dur}s --timeout 10s -s "$bench/stream.lua" \
    "http://127.0.0.1:$port/v1/chat/completions" | grep RESULT | sed "s/^RESULT/unigate-stream c=$c/"
done
echo "# gateway RSS after the runs: $(awk '/VmRSS/ {print $2/1024 " MB"}' /proc/$gw/status)"
