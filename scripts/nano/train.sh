#!/usr/bin/env bash
# hearth-nano from nothing, one seeded command (issue 6):
#   data.py → vocab.ts → tokenize.ts → train.py → export.ts (→ eval.ts with --smoke, as the load check)
#
#   npm run train:nano [-- OPTIONS]      or      bash scripts/nano/train.sh [OPTIONS]
#
#   --smoke          tiny data, 20 training steps, export to a temporary folder, then load it in hearth (CI)
#   --seed S         seed of the data (default 1); train.py keeps its own --seed
#   --out DIR        where the GGUFs go (default: models/, the committed files; --smoke: a temporary folder)
#   --reuse-data     keep NANO_DIR/data if it is already there (skips data, vocab and tokenize)
#   --vocab-size V   BPE vocabulary size (default 1024)
#   anything else    passed to train.py (e.g. --steps 3000, --minutes 50)
#
# NANO_DIR (default $HOME/.cache/hearth/nano) holds data/ and data/weights/; --smoke uses a fresh temporary one.
set -euo pipefail
cd "$(dirname "$0")/../.."

smoke=0 seed=1 out="" reuse=0 vocab_size=1024
train_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --seed) seed="$2"; shift ;;
    --out) out="$2"; shift ;;
    --reuse-data) reuse=1 ;;
    --vocab-size) vocab_size="$2"; shift ;;
    *) train_args+=("$1") ;;
  esac
  shift
done

PY=/usr/bin/python3
if [ "$smoke" = 1 ]; then
  NANO_DIR="$(mktemp -d -t hearth-nano-smoke.XXXXXX)"
  trap 'rm -rf "$NANO_DIR"' EXIT
  out="${out:-$NANO_DIR/models}"
  data_args=(--n-text 300 --n-image 24 --n-audio 12 --heldout-text 30 --heldout-image 6 --heldout-audio 4)
  vocab_size=400
  train_args=(--smoke "${train_args[@]}")
else
  NANO_DIR="${NANO_DIR:-$HOME/.cache/hearth/nano}"
  out="${out:-models}"
  data_args=()
fi
data="$NANO_DIR/data"
step() { echo "== train.sh: $* ($(date -u +%T))" >&2; }

if [ "$reuse" = 1 ] && [ -f "$data/train.tokens.jsonl" ] && [ -f "$data/vocab.json" ]; then
  step "reusing $data"
else
  rm -rf "$data"
  mkdir -p "$data"
  step "data.py --seed $seed"
  "$PY" scripts/nano/data.py --out "$data" --seed "$seed" "${data_args[@]}"
  step "vocab.ts --size $vocab_size"
  npx tsx scripts/nano/vocab.ts --data "$data" --size "$vocab_size"
  step "tokenize.ts"
  npx tsx scripts/nano/tokenize.ts --data "$data"
fi
step "train.py ${train_args[*]}"
"$PY" scripts/nano/train.py --data "$data" --out "$data/weights" "${train_args[@]}"
mkdir -p "$out"
step "export.ts → $out"
npx tsx scripts/nano/export.ts --weights "$data/weights" --vocab "$data/vocab.json" --out "$out"
if [ "$smoke" = 1 ]; then
  # the exported files must load and generate in hearth; a 20-step model's answers are not checked
  step "eval.ts (load check)"
  npx tsx scripts/nano/eval.ts --model "$out/hearth-nano.gguf" --data "$data" --per-task 1 --no-targets
fi
step "done"
