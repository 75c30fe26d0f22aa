#!/usr/bin/env bash
# Builds llama.cpp's command-line tools (the parity oracle for things node-llama-cpp does not expose, e.g.
# `llama-speculative-simple --spec-type draft-mtp`) from the exact source node-llama-cpp bundles.
# The checkout and build live OUTSIDE the repo ($LLAMA_TOOLS_DIR, default $HOME/.cache/hearth/llama-src).
# Usage: scripts/build-llama-tools.sh [cmake targets...]   (default: llama-speculative-simple)
# Env: LLAMA_TOOLS_DIR, JOBS (default 2: the dev machine is shared).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bundle="$repo/node_modules/node-llama-cpp/llama/gitRelease.bundle"
dir="${LLAMA_TOOLS_DIR:-$HOME/.cache/hearth/llama-src}"
jobs="${JOBS:-2}"
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(llama-speculative-simple)

if [ ! -f "$bundle" ]; then
  echo "build-llama-tools: $bundle not found (run npm install first)" >&2
  exit 1
fi
if [ ! -d "$dir/.git" ]; then
  mkdir -p "$(dirname "$dir")"
  git clone --quiet "$bundle" "$dir"
fi
cmake -S "$dir" -B "$dir/build" -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
for t in "${targets[@]}"; do
  cmake --build "$dir/build" -j "$jobs" --target "$t"
done
echo "built: $dir/build/bin/"
