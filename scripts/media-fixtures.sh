#!/usr/bin/env bash
# Regenerates the media fixtures (test/fixtures/media/): the small PNG/JPEG/WAV files, then llama.cpp v0.5.0's
# reference preprocessing of them (llama-reference.json). Needs /usr/bin/python3 with PIL, a C++17 compiler and
# llama.cpp's libmtmd built by scripts/build-llama-tools.sh (target mtmd). The tests only read the outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
LLAMA="${LLAMA_SRC:-$HOME/.cache/hearth/llama-src}"
BIN="$LLAMA/build/bin"
[ -f "$BIN/libmtmd.so" ] || { echo "no $BIN/libmtmd.so: run scripts/build-llama-tools.sh llama-mtmd-cli first" >&2; exit 1; }
OUT="${TMPDIR:-/tmp}/hearth-media-reference"
mkdir -p "$OUT"
/usr/bin/python3 scripts/media-fixtures.py test/fixtures/media
# Same flags as libmtmd itself (-O3, no -march): the harness's stb/miniaudio copies compute as the library's do.
c++ -std=c++17 -O3 -DNDEBUG -w -I"$LLAMA/tools/mtmd" -I"$LLAMA/ggml/include" -I"$LLAMA/include" -I"$LLAMA/vendor" \
  scripts/media-reference.cpp -o "$OUT/media-reference" -L"$BIN" -lmtmd -lggml -lggml-base -Wl,-rpath,"$BIN"
npx tsx scripts/media-fixtures.ts "$OUT/media-reference"
