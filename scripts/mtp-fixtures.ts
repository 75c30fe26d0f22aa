/**
 * Golden fixtures for Gemma 4 MTP drafting, from llama.cpp's own `draft-mtp` (test/fixtures/mtp/*.json).
 *
 * For each synthetic target + assistant pair (test/helpers/mtp-pair.ts: deterministic from the options recorded in
 * the fixture), runs `llama-speculative-simple --spec-type draft-mtp` greedily on a few prompts at n_max 1–4 and
 * records, for every draft/verify step, the draft chain the assistant computed (candidate 0 of each draft step in
 * the debug log), how many of them were verified (llama.cpp truncates near the end of -n), how many were
 * accepted and the target's last token. Two assistants per target: its random weights (drafts are rarely
 * accepted), and a "bigram" assistant built from the target's greedy output of the random runs (a mix of accepted
 * and rejected drafts).
 *
 *   scripts/build-llama-tools.sh                      # once: builds llama-speculative-simple (~25 min on 2 cores)
 *   node --import tsx scripts/mtp-fixtures.ts [--bin DIR] [--out DIR]
 *
 * -ub 1 makes llama.cpp compute every batch row by row (see `cases`); the loop, the drafts and the KV handling are
 * unchanged by it. llama.cpp's source is not modified: drafts are read from its debug log (-v), lines
 * "draft candidate 0, pos i: <id>", "truncating draft to <n> tokens" and "accepted a/k draft tokens, the last
 * target token is: (<id>)".
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gemma4Presets, type SyntheticGemma4Options } from '../src/engine/gguf/synthetic-gemma4.ts';
import { bufferSource } from '../src/engine/gguf/source.ts';
import { readGguf } from '../src/engine/gguf/reader.ts';
import { Random } from '../src/engine/gguf/synthetic.ts';
import { GGML_TYPE } from '../src/engine/gguf/types.ts';
import { createTokenizer } from '../src/engine/tokenizer/index.ts';
import { mtpPair, type MtpPairSpec } from '../test/helpers/mtp-pair.ts';

const repo = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    bin: { type: 'string', default: join(process.env.LLAMA_TOOLS_DIR ?? join(homedir(), '.cache/hearth/llama-src'), 'build/bin') },
    out: { type: 'string', default: join(repo, 'test/fixtures/mtp') },
  },
});
const tool = join(values.bin!, 'llama-speculative-simple');
const N_PREDICT = 32;
const CONTEXT = 256;
const N_MAX = [1, 2, 3, 4];

export interface MtpStep {
  /** The assistant's draft chain (every step it computed). */
  draft: number[];
  /** Drafts the target verified (llama.cpp truncates the chain to what -n still allows). */
  used: number;
  accepted: number;
  /** The target's token after the accepted drafts (id_last of the next step). */
  last: number;
}

export interface MtpRun {
  prompt: string;
  promptIds: number[];
  nMax: number;
  argv: string[];
  steps: MtpStep[];
  /** llama.cpp's own totals (n_predict, n_drafted, n_accept). */
  totals: { predicted: number; drafted: number; accepted: number };
}

export interface MtpFixture {
  about: string;
  llamaCpp: { source: string; commit: string; build: string; tool: string };
  nPredict: number;
  contextSize: number;
  pairs: { kind: 'random' | 'bigram'; spec: MtpPairSpec; targetHash: string; assistantHash: string; runs: MtpRun[] }[];
}

interface Case {
  name: string;
  target: SyntheticGemma4Options;
  assistant: MtpPairSpec['assistant'];
  prompts: string[];
}

// Runs use -ub 1: llama.cpp then evaluates the prompt and every verification batch one row at a time, its one-token
// path, which our kernels reproduce at every batch size. Its multi-row path rounds differently on these synthetic
// targets (measured: up to ~1.3 in the logits of a Q8_0 prompt of some 20 tokens, ~0.6 for Q4_K, content-dependent
// and sometimes exactly 0), and moves drafts and near-tied target picks with it.
const cases: Case[] = [
  {
    name: '12b-tiny-q8',
    target: { ...gemma4Presets['12b-tiny'], type: GGML_TYPE.Q8_0, embdType: GGML_TYPE.Q8_0 },
    assistant: { embd: 128, layers: 4, ff: 256, type: GGML_TYPE.F16 },
    prompts: ['the cat sat on the mat', 'Once upon a time, there was a little', 'Hello, world! 1 2 3'],
  },
  {
    name: 'e2b-tiny-q8',
    target: { ...gemma4Presets['e2b-tiny'], type: GGML_TYPE.Q8_0, embdType: GGML_TYPE.Q8_0 },
    assistant: { embd: 128, layers: 4, ff: 256, type: GGML_TYPE.F16 },
    prompts: ['the cat sat on the mat', 'Once upon a time, there was a little'],
  },
];

function parseLog(log: string, nMax: number): { steps: MtpStep[]; totals: MtpRun['totals']; encoded: number } {
  const steps: MtpStep[] = [];
  let chain: number[] = [];
  let used = -1;
  const re = /draft candidate\s+(\d+), pos\s+(\d+):\s+(-?\d+) |truncating draft to (\d+) tokens|accepted (\d+)\/(\d+) draft tokens, the last target token is: \((-?\d+)\)/g;
  for (const m of log.matchAll(re)) {
    if (m[1] !== undefined) {
      if (m[1] !== '0') continue;
      if (Number(m[2]) !== chain.length) throw new Error(`log: draft step ${m[2]} after ${chain.length} steps`);
      chain.push(Number(m[3]));
    } else if (m[4] !== undefined) {
      used = Number(m[4]);
    } else {
      const verified = Number(m[6]);
      if (chain.length !== nMax) throw new Error(`log: a draft of ${chain.length} steps (n_max ${nMax})`);
      if (used >= 0 && used !== verified) throw new Error(`log: truncated to ${used} but ${verified} verified`);
      steps.push({ draft: chain, used: verified, accepted: Number(m[5]), last: Number(m[7]) });
      chain = [];
      used = -1;
    }
  }
  const num = (re: RegExp) => {
    const m = re.exec(log);
    if (!m) throw new Error(`log: no match for ${re}`);
    return Number(m[1]);
  };
  return {
    steps,
    totals: { predicted: num(/n_predict = (\d+)/), drafted: num(/n_drafted = (\d+)/), accepted: num(/n_accept\s+= (\d+)/) },
    encoded: num(/encoded\s+(\d+) tokens/),
  };
}

/**
 * Run the tool and parse its log. llama.cpp logs from a worker thread that may not flush its last lines before the
 * process exits; a log without its closing totals is run again (up to 5 times).
 */
function runTool(args: string[], nMax: number): ReturnType<typeof parseLog> {
  for (let attempt = 1; ; attempt++) {
    const result = spawnSync(tool, args, { encoding: 'latin1', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 28 });
    if (result.error) throw new Error(`${tool}: ${result.error.message} (build it with scripts/build-llama-tools.sh)`);
    const log = result.stderr;
    if (result.status !== 0) throw new Error(`${tool} exited with ${result.status}:\n${log.slice(-2000)}`);
    const complete = [/encoded\s+\d+ tokens/, /n_predict = \d+/, /n_drafted = \d+/, /n_accept\s+= \d+/].every((re) => re.test(log));
    if (complete || attempt === 5) return parseLog(log, nMax);
  }
}

/** The generated tokens of a run: per step the accepted drafts, then the target's own token. */
export function runTokens(steps: MtpStep[]): number[] {
  return steps.flatMap((s) => [...s.draft.slice(0, s.accepted), s.last]);
}

async function runPair(dir: string, c: Case, spec: MtpPairSpec, kind: 'random' | 'bigram'): Promise<MtpFixture['pairs'][number]> {
  const pair = await mtpPair(spec);
  const target = join(dir, `${c.name}-target.gguf`);
  const assistant = join(dir, `${c.name}-${kind}-assistant.gguf`);
  writeFileSync(target, pair.target);
  writeFileSync(assistant, pair.assistant);
  const tokenizer = createTokenizer((await readGguf(bufferSource(pair.target, 'target.gguf'))).metadata);
  const runs: MtpRun[] = [];
  for (const prompt of c.prompts) {
    // as llama-speculative-simple: BOS added, special tokens parsed
    const promptIds = tokenizer.encode(prompt, { addSpecial: true, parseSpecial: true });
    for (const nMax of N_MAX) {
      const args = ['-m', target, '-md', assistant, '--spec-type', 'draft-mtp', '--spec-draft-n-max', String(nMax), '--spec-draft-n-min', '0',
        '--spec-draft-p-min', '0', '-c', String(CONTEXT), '-n', String(N_PREDICT), '-ub', '1', '--temp', '0', '-t', '2', '-fa', 'off', '-v', '-p', prompt];
      // the log goes to stderr; only the generated text to stdout
      const parsed = runTool(args, nMax);
      if (parsed.encoded !== promptIds.length) {
        throw new Error(`${c.name} ${JSON.stringify(prompt)}: llama.cpp encoded ${parsed.encoded} tokens, hearth's tokenizer ${promptIds.length}`);
      }
      const argv = ['llama-speculative-simple', ...args.map((a) => (a === target || a === assistant ? basename(a) : a))];
      runs.push({ prompt, promptIds, nMax, argv, steps: parsed.steps, totals: parsed.totals });
      const acc = parsed.totals.accepted;
      console.log(`${c.name} ${kind} n_max ${nMax} ${JSON.stringify(prompt)}: ${parsed.steps.length} steps, ${acc}/${parsed.totals.drafted} accepted`);
    }
  }
  return { kind, spec, targetHash: pair.targetHash, assistantHash: pair.assistantHash, runs };
}

/** The commit of the llama.cpp checkout the tool was built from (bin = <checkout>/build/bin). */
function sourceCommit(): string {
  try {
    return execFileSync('git', ['-C', join(values.bin!, '../..'), 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** JSON with two-space indents, small arrays and objects (a step, a command line) kept on one line. */
function pretty(value: unknown): string {
  const flat = (s: string) => s.replace(/\s*\n\s*/g, ' ').replace(/\[ /g, '[').replace(/ \]/g, ']');
  return JSON.stringify(value, null, 2)
    .replace(/\[[^[\]{}]*\]/g, flat)
    .replace(/\[(?:\s*\[[^[\]{}]*\],?)*\s*\]/g, flat)
    .replace(/\{[^{}]*\}/g, (obj) => (obj.length < 400 ? flat(obj) : obj));
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-mtp-'));
  mkdirSync(values.out!, { recursive: true });
  try {
    for (const c of cases) {
      const base: MtpPairSpec = { target: c.target, assistant: c.assistant };
      const random = await runPair(dir, c, base, 'random');
      // the target's greedy sequences (prompt + output; the drafter never changes them), 70% of their bigrams
      const pick = new Random(c.target.seed, 'mtp fixture bigrams');
      const bigrams: [number, number][] = [];
      for (const run of random.runs.filter((r) => r.nMax === 1)) {
        const seq = [...run.promptIds, ...runTokens(run.steps)];
        for (let i = 0; i + 1 < seq.length; i++) if (pick.uniform() < 0.7) bigrams.push([seq[i], seq[i + 1]]);
      }
      const bigram = await runPair(dir, c, { ...base, bigrams }, 'bigram');
      const fixture: MtpFixture = {
        about: 'llama.cpp draft-mtp drafts on a synthetic Gemma 4 pair (see scripts/mtp-fixtures.ts); regenerate with that script',
        llamaCpp: {
          source: 'llama.cpp v0.5.0 from node-llama-cpp 3.22.1 llama/gitRelease.bundle',
          commit: sourceCommit(),
          build: 'scripts/build-llama-tools.sh: cmake -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release, CPU',
          tool: 'llama-speculative-simple',
        },
        nPredict: N_PREDICT,
        contextSize: CONTEXT,
        pairs: [random, bigram],
      };
      const file = join(values.out!, `${c.name}.json`);
      writeFileSync(file, `${pretty(fixture)}\n`);
      console.log(`wrote ${file}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
