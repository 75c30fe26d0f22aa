#!/usr/bin/env bash
# Build the two wasm cores from wasm/src: hearth-baseline.wasm (SIMD128, for Node 20) and hearth-relaxed.wasm
# (+ relaxed SIMD, for workerd / wrangler dev / Deno). The output is deterministic (no paths, no producers or
# debug sections), so CI can rebuild and compare:  scripts/build-wasm.sh --check  rebuilds into a temp dir and
# fails if either file differs from the committed one.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

pick() { if command -v "$1" >/dev/null 2>&1; then echo "$1"; elif command -v "$2" >/dev/null 2>&1; then echo "$2"; else echo "build-wasm: neither $1 nor $2 found" >&2; exit 1; fi; }
CC="$(pick clang-19 clang)"
LD="$(pick wasm-ld-19 wasm-ld)"

sources=(wasm/src/traits.c wasm/src/run.c wasm/src/quantize.c wasm/src/matmul_float.c wasm/src/matmul_q.c
         wasm/src/matmul_k.c wasm/src/matmul_tinyblas.c wasm/src/dequant.c wasm/src/norm.c wasm/src/layer_norm.c wasm/src/rope.c wasm/src/attention.c
         wasm/src/elementwise.c wasm/src/repack.c)

cflags=(--target=wasm32 -std=c11 -O3 -ffreestanding -nostdlib -fno-builtin-memset -ffp-contract=off
        -msimd128 -mbulk-memory -matomics -mnontrapping-fptoint -msign-ext -mmutable-globals
        -Wall -Wextra -Werror -Wno-unused-function -fno-ident -g0
        # LLVM's loop strength reduction rewrites array addressing into adds that the wasm backend cannot fold
        # into load offsets; V8 then spends an extra instruction per load (measured: K-quant matvec ~20% slower)
        -mllvm -disable-lsr)
ldflags=(--no-entry --import-memory --shared-memory --max-memory=4294967296 -z stack-size=65536
         --export=__heap_base --export=__stack_pointer --strip-all --no-gc-sections)

build() { # build <out.wasm> <extra cflags...>
    local out="$1"; shift
    local tmp; tmp="$(mktemp -d)"
    local objs=()
    for src in "${sources[@]}"; do
        local obj="$tmp/$(basename "${src%.c}").o"
        # -ffile-prefix-map keeps the temp and source paths out of anything the compiler records
        "$CC" "${cflags[@]}" "$@" -ffile-prefix-map="$root"=. -ffile-prefix-map="$tmp"=. -c "$src" -o "$obj"
        objs+=("$obj")
    done
    "$LD" "${ldflags[@]}" "${objs[@]}" -o "$out"
    rm -rf "$tmp"
}

if [[ "${1:-}" == "--check" ]]; then
    out="$(mktemp -d)"
    trap 'rm -rf "$out"' EXIT
    build "$out/hearth-baseline.wasm"
    build "$out/hearth-relaxed.wasm" -mrelaxed-simd
    status=0
    for f in hearth-baseline.wasm hearth-relaxed.wasm; do
        if ! cmp -s "$out/$f" "wasm/$f"; then echo "build-wasm --check: wasm/$f differs from a fresh build" >&2; status=1; fi
    done
    [[ $status == 0 ]] && echo "build-wasm --check: both builds match"
    exit $status
fi

build wasm/hearth-baseline.wasm
build wasm/hearth-relaxed.wasm -mrelaxed-simd
echo "built wasm/hearth-baseline.wasm ($(stat -c %s wasm/hearth-baseline.wasm) bytes), wasm/hearth-relaxed.wasm ($(stat -c %s wasm/hearth-relaxed.wasm) bytes)"
