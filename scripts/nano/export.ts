/**
 * hearth-nano → GGUF: the text model (`gemma4`), the projector file (`clip`, gemma4uv + gemma4ua) and the MTP drafter
 * (`gemma4-assistant`), with the names, shapes, types and keys llama.cpp's converter writes for Gemma 4 12B (spec
 * gemma4.md §2–4, §8.1–8.2, §9.1, §10.2–10.3), through the project's one GGUF writer.
 *
 *   npx tsx scripts/nano/export.ts --weights DIR/weights --vocab DIR/vocab.json --out models/
 *
 * train.py hands the weights over as one little-endian f32 file per GGUF tensor (torch [out, in] row-major is
 * ggml [in, out]) plus manifest.json. File type F16: 2-D weights F16 (v.patch_embd too: the converter keeps it F32
 * only when the file type is not F16); norms, biases, scalars, rope_freqs and the position tables F32.
 */
import { readFileSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { quantize } from '../../src/engine/gguf/quantize.ts';
import { GGML_TYPE, GGUF_TYPE } from '../../src/engine/gguf/types.ts';
import { gv, writeGguf, type GgufTensorInput, type GgufTypedValue } from '../../src/engine/gguf/writer.ts';
import { fileSink } from '../../src/host/node/file-sink.ts';

interface ManifestTensor { name: string; shape: number[]; file: string }
interface TextConfig {
  vocab: number; embd: number; layers: number; heads: number; kv_heads: number; kv_heads_full: number; head_dim: number;
  head_dim_full: number; ff: number; window: number; full_every: number; partial_rotary: number; rope_base: number;
  rope_base_swa: number; softcap: number; eps: number; ctx: number;
}
interface MediaConfig { patch: number; pos_rows: number; frame: number; mean: number[]; std: number[] }
interface AssistantConfig { embd: number; layers: number; heads: number; ff: number }
interface Manifest {
  text: { config: TextConfig; tensors: ManifestTensor[] };
  mmproj: { config: MediaConfig; tensors: ManifestTensor[] };
  assistant?: { config: AssistantConfig; tensors: ManifestTensor[] };
  train?: unknown;
}
interface Vocab {
  tokens: string[]; scores: number[]; types: number[]; merges: string[];
  bos: number; eos: number; pad: number; unk: number; chatTemplate: string;
}

const FILE_TYPE_F16 = 1;

function readF32(dir: string, t: ManifestTensor): Float32Array {
  const buf = readFileSync(join(dir, t.file));
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (buf.length !== n * 4) throw new Error(`${t.file}: ${buf.length} bytes, shape [${t.shape}] needs ${n * 4}`);
  const out = new Float32Array(n);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

/** The converter's type rule for a file of type F16: 2-D weights F16, everything else (and position tables) F32. */
function storageType(name: string, dims: number[]): number {
  if (dims.length === 2 && !name.endsWith('_norm.weight')) return GGML_TYPE.F16;
  return GGML_TYPE.F32;
}

function tensorsOf(dir: string, list: ManifestTensor[]): GgufTensorInput[] {
  return list.map((t) => {
    const dims = [...t.shape].reverse();
    const type = storageType(t.name, dims);
    return { name: t.name, dims, type, data: () => quantize(type, readF32(dir, t)) };
  });
}

function f32Tensor(name: string, values: Float32Array): GgufTensorInput {
  return { name, dims: [values.length], type: GGML_TYPE.F32, data: new Uint8Array(values.buffer.slice(0)) };
}

/** rope_freqs.weight (spec §4): 1 for the int(head_dim_full · partial / 2) rotated pairs, 1e30 for the rest. */
function ropeFreqs(c: TextConfig): Float32Array {
  const out = new Float32Array(c.head_dim_full / 2).fill(1e30);
  out.fill(1, 0, Math.floor((c.head_dim_full * c.partial_rotary) / 2));
  return out;
}

function tokenizerMetadata(v: Vocab): [string, GgufTypedValue][] {
  return [
    ['tokenizer.ggml.model', gv.str('gemma4')],
    ['tokenizer.ggml.tokens', gv.array(GGUF_TYPE.STRING, v.tokens)],
    ['tokenizer.ggml.scores', gv.array(GGUF_TYPE.FLOAT32, Float32Array.from(v.scores))],
    ['tokenizer.ggml.token_type', gv.array(GGUF_TYPE.INT32, Int32Array.from(v.types))],
    ['tokenizer.ggml.merges', gv.array(GGUF_TYPE.STRING, v.merges)],
    ['tokenizer.ggml.bos_token_id', gv.u32(v.bos)],
    ['tokenizer.ggml.eos_token_id', gv.u32(v.eos)],
    ['tokenizer.ggml.unknown_token_id', gv.u32(v.unk)],
    ['tokenizer.ggml.padding_token_id', gv.u32(v.pad)],
    ['tokenizer.ggml.add_bos_token', gv.bool(true)],
    ['tokenizer.ggml.add_eos_token', gv.bool(false)],
    ['tokenizer.ggml.add_space_prefix', gv.bool(false)],
    ['tokenizer.chat_template', gv.str(v.chatTemplate)],
  ];
}

/** Per-layer attention keys shared by gemma4 and gemma4-assistant (prefix = the architecture). */
function attentionMetadata(a: string, c: TextConfig, embd: number, layers: number, ff: number, sliding: boolean[]): [string, GgufTypedValue][] {
  return [
    [`${a}.context_length`, gv.u32(c.ctx)],
    [`${a}.embedding_length`, gv.u32(embd)],
    [`${a}.block_count`, gv.u32(layers)],
    [`${a}.feed_forward_length`, gv.u32(ff)],
    [`${a}.attention.head_count`, gv.u32(c.heads)],
    [`${a}.attention.head_count_kv`, gv.array(GGUF_TYPE.INT32, Int32Array.from(sliding, (s) => (s ? c.kv_heads : c.kv_heads_full)))],
    [`${a}.attention.key_length`, gv.u32(c.head_dim_full)],
    [`${a}.attention.value_length`, gv.u32(c.head_dim_full)],
    [`${a}.attention.key_length_swa`, gv.u32(c.head_dim)],
    [`${a}.attention.value_length_swa`, gv.u32(c.head_dim)],
    [`${a}.rope.dimension_count`, gv.u32(c.head_dim_full)],
    [`${a}.rope.dimension_count_swa`, gv.u32(c.head_dim)],
    [`${a}.rope.freq_base`, gv.f32(c.rope_base)],
    [`${a}.rope.freq_base_swa`, gv.f32(c.rope_base_swa)],
    [`${a}.attention.layer_norm_rms_epsilon`, gv.f32(c.eps)],
    [`${a}.attention.sliding_window`, gv.u32(c.window)],
    [`${a}.attention.sliding_window_pattern`, gv.array(GGUF_TYPE.BOOL, sliding)],
  ];
}

function general(arch: string, name: string, extra: [string, GgufTypedValue][] = []): [string, GgufTypedValue][] {
  return [
    ['general.architecture', gv.str(arch)],
    ['general.type', gv.str(arch === 'clip' ? 'mmproj' : 'model')],
    ['general.name', gv.str(name)],
    ['general.license', gv.str('MIT')],
    ['general.file_type', gv.u32(FILE_TYPE_F16)],
    ...extra,
  ];
}

export async function exportNano(weights: string, vocabPath: string, out: string): Promise<string[]> {
  const m = JSON.parse(readFileSync(join(weights, 'manifest.json'), 'utf8')) as Manifest;
  const v = JSON.parse(readFileSync(vocabPath, 'utf8')) as Vocab;
  const c = m.text.config;
  if (v.tokens.length !== c.vocab) throw new Error(`vocab.json has ${v.tokens.length} tokens, the weights ${c.vocab}`);
  mkdirSync(out, { recursive: true });
  const written: string[] = [];
  const write = async (file: string, metadata: [string, GgufTypedValue][], tensors: GgufTensorInput[]) => {
    const path = join(out, file);
    const sink = await fileSink(path);
    await writeGguf(sink, { metadata, tensors });
    await sink.close();
    written.push(path);
  };

  // text model: the converter's order puts rope_freqs after the token embedding and output norm
  const sliding = Array.from({ length: c.layers }, (_, i) => (i + 1) % c.full_every !== 0);
  const text = tensorsOf(weights, m.text.tensors);
  const tensors = [...text.slice(0, 2), ...(sliding.some((s) => !s) ? [f32Tensor('rope_freqs.weight', ropeFreqs(c))] : []), ...text.slice(2)];
  await write('hearth-nano.gguf', [
    ...general('gemma4', 'hearth-nano'),
    ...attentionMetadata('gemma4', c, c.embd, c.layers, c.ff, sliding),
    ['gemma4.final_logit_softcapping', gv.f32(c.softcap)],
    ['gemma4.attention.shared_kv_layers', gv.u32(0)],
    ['gemma4.embedding_length_per_layer_input', gv.u32(0)],
    ...tokenizerMetadata(v),
  ], tensors);

  // projectors (spec §8.1, §9.1): the dummies the loader insists on are written with the converter's values
  const mc = m.mmproj.config;
  await write('hearth-nano-mmproj.gguf', [
    ...general('clip', 'hearth-nano-mmproj'),
    ['clip.has_vision_encoder', gv.bool(true)],
    ['clip.has_audio_encoder', gv.bool(true)],
    ['clip.vision.projector_type', gv.str('gemma4uv')],
    ['clip.vision.projection_dim', gv.u32(c.embd)],
    ['clip.vision.image_size', gv.u32(224)],
    ['clip.vision.patch_size', gv.u32(16)],
    ['clip.vision.embedding_length', gv.u32(c.embd)],
    ['clip.vision.feed_forward_length', gv.u32(0)],
    ['clip.vision.block_count', gv.u32(0)],
    ['clip.vision.attention.head_count', gv.u32(0)],
    ['clip.vision.attention.layer_norm_epsilon', gv.f32(1e-6)],
    ['clip.vision.image_mean', gv.array(GGUF_TYPE.FLOAT32, Float32Array.from(mc.mean))],
    ['clip.vision.image_std', gv.array(GGUF_TYPE.FLOAT32, Float32Array.from(mc.std))],
    ['clip.audio.projector_type', gv.str('gemma4ua')],
    ['clip.audio.projection_dim', gv.u32(c.embd)],
    ['clip.audio.embedding_length', gv.u32(mc.frame)],
    ['clip.audio.feed_forward_length', gv.u32(0)],
    ['clip.audio.block_count', gv.u32(0)],
    ['clip.audio.attention.head_count', gv.u32(0)],
    ['clip.audio.num_mel_bins', gv.u32(128)],
    ['clip.audio.attention.layer_norm_epsilon', gv.f32(1e-6)],
  ], tensorsOf(weights, m.mmproj.tensors));

  if (m.assistant) {
    const a = m.assistant.config;
    const aSliding = Array.from({ length: a.layers }, (_, i) => i < a.layers - 1);
    const at = tensorsOf(weights, m.assistant.tensors);
    const ac = { ...c, heads: a.heads };
    await write('hearth-nano-assistant.gguf', [
      ...general('gemma4-assistant', 'hearth-nano-assistant'),
      ...attentionMetadata('gemma4-assistant', ac, a.embd, a.layers, a.ff, aSliding),
      ['gemma4-assistant.embedding_length_out', gv.u32(c.embd)],
      ['gemma4-assistant.nextn_predict_layers', gv.u32(a.layers)],
      ['gemma4-assistant.attention.shared_kv_layers', gv.u32(a.layers)],
      ['gemma4-assistant.embedding_length_per_layer_input', gv.u32(0)],
      ...tokenizerMetadata(v),
    ], [...at.slice(0, 4), f32Tensor('rope_freqs.weight', ropeFreqs(c)), ...at.slice(4)]);
  }
  return written;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { weights: { type: 'string' }, vocab: { type: 'string' }, out: { type: 'string' } } });
  if (!values.weights || !values.vocab || !values.out) {
    console.error('usage: tsx scripts/nano/export.ts --weights DIR --vocab vocab.json --out DIR');
    process.exit(2);
  }
  const files = await exportNano(values.weights, values.vocab, values.out);
  for (const f of files) console.log(`${f}: ${(statSync(f).size / 1e6).toFixed(2)} MB`);
}

if (process.argv[1] && import.meta.url === new URL(process.argv[1], 'file://').href) await main();
