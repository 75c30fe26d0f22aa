"""Reference logits of hearth-nano for hearth's tests (test/nano.test.ts): the PyTorch forward in float32 on the
weights as the GGUF stores them (2-D weights rounded to F16 the way the exporter rounds), with llama.cpp's CPU
rounding of activations (F16 into F16 matmuls, F16 KV cache and attention probabilities, the F16 GELU table), for a
few held-out text, image and audio prompts. Writes test/fixtures/nano/reference.json (last-position logits, the
greedy answer) and copies the image/audio files the prompts use next to it.

  /usr/bin/python3 scripts/nano/reference.py --data DIR --weights DIR/weights [--out test/fixtures/nano]
"""
import argparse
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import (Assistant, AssistantConfig, Gemma4Nano, MediaConfig, Numerics, TextConfig,  # noqa: E402
                   gguf_assistant_tensors, gguf_mmproj_tensors, gguf_text_tensors, rope_angles, rope_freqs,
                   round_like_gguf)
from media_io import audio_frames, image_patches  # noqa: E402

torch.set_num_threads(2)


def load(weights):
    man = json.load(open(os.path.join(weights, 'manifest.json')))
    cfg = TextConfig(**man['text']['config'])
    mcfg = MediaConfig(**man['mmproj']['config'])
    model = Gemma4Nano(cfg, mcfg)
    model.load_state_dict(torch.load(os.path.join(weights, 'model.pt')))
    round_like_gguf(gguf_text_tensors(model) + gguf_mmproj_tensors(model))
    model.num = Numerics(True)
    model.eval()
    asst = None
    if 'assistant' in man and os.path.exists(os.path.join(weights, 'assistant.pt')):
        asst = Assistant(cfg, AssistantConfig(**man['assistant']['config']))
        asst.load_state_dict(torch.load(os.path.join(weights, 'assistant.pt')))
        round_like_gguf(gguf_assistant_tensors(asst))
        asst.num = Numerics(True)
        asst.eval()
    return model, asst, man


def media_rows(model, data, m):
    p = os.path.join(data, m['path'])
    if m['kind'] == 'image':
        x, cols = image_patches(p, model.media_cfg.mean, model.media_cfg.std)
        return model.image(x, cols, model.num), cols
    return model.audio(audio_frames(p), model.num), None


@torch.no_grad()
def run(model, data, ids, m, end_id, max_new=24):
    rows, spans = [], []
    if m:
        r, _ = media_rows(model, data, m)
        rows.append((0, m['start'], r))
        if m['kind'] == 'image':
            spans.append((0, m['start'], m['rows']))
    first = None
    seq = list(ids)
    out = []
    for _ in range(max_new):
        lg = model(torch.tensor([seq]), rows, spans)[0, -1]
        if first is None:
            first = lg
        nxt = int(lg.argmax())
        out.append(nxt)
        if nxt == end_id:
            break
        seq.append(nxt)
    return first, out


@torch.no_grad()
def drafts(model, asst, ids, n):
    """The assistant's n draft tokens after the prompt ids[:-1] is in the target's cache and ids[-1] is the last
    token (llama.cpp's draft-mtp: token = id_last, h = the post-norm hidden state of the row before, position n_past)."""
    c = model.cfg
    ctx = torch.tensor([ids[:-1]])
    h, kv = model.hidden(ctx, return_kv=True)
    T = ctx.shape[1]
    pos = T
    ls, lf = c.layers - 2, c.layers - 1
    cs = {True: tuple(t[pos:pos + 1] for t in rope_angles(pos + 1, c.head_dim, c.rope_base_swa)),
          False: tuple(t[pos:pos + 1] for t in rope_angles(pos + 1, c.head_dim_full, c.rope_base, rope_freqs(c)))}
    i = torch.arange(T)
    mask_f = torch.ones(1, 1, T, dtype=torch.bool)
    mask_s = (pos - i < c.window)[None, None]
    tok = ids[-1]
    hh = h[:, -1:]
    out = []
    for _ in range(n):
        lg, hh = asst.step(model.embed, torch.tensor([[tok]]), hh, kv[ls], kv[lf], cs, mask_s, mask_f)
        tok = int(lg[0, -1].argmax())
        out.append(tok)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--weights', required=True)
    ap.add_argument('--out', default='test/fixtures/nano')
    ap.add_argument('--per-kind', default='text=3,image=2,audio=2')
    a = ap.parse_args()
    a.per_kind = {k: int(v) for k, v in (kv.split('=') for kv in a.per_kind.split(','))}
    model, asst, man = load(a.weights)
    vocab = json.load(open(man['vocab']))
    end_id = vocab['tokens'].index('<turn|>')
    held = [json.loads(l) for l in open(os.path.join(a.data, 'heldout.tokens.jsonl')) if l.strip()]
    os.makedirs(a.out, exist_ok=True)
    tasks = {}
    raw = os.path.join(a.data, 'heldout.jsonl')
    if os.path.exists(raw):
        tasks = {r['id']: r.get('task') for r in map(json.loads, filter(str.strip, open(raw)))}
    # a few held-out prompts per kind, each of another task where the data names tasks
    picked = {'text': [], 'image': [], 'audio': []}
    seen = set()
    for e in held:
        k = (e.get('media') or {}).get('kind', 'text')
        t = tasks.get(e['id'], e['id'])
        if len(picked[k]) < a.per_kind[k] and t not in seen:
            picked[k].append(e)
            seen.add(t)
    for e in held:
        k = (e.get('media') or {}).get('kind', 'text')
        if len(picked[k]) < a.per_kind[k] and e not in picked[k]:
            picked[k].append(e)
    texts = [e for e in held if not e.get('media')]
    # one prompt longer than the sliding window (held-out text prompts back to back, each a full turn)
    long_ids = [texts[0]['ids'][0]]
    for e in texts:
        if len(long_ids) > model.cfg.window + 40:
            break
        long_ids += e['ids'][1:]
    prompts = []
    for kind, es in picked.items():
        for e in es:
            prompts.append({'name': f'{kind}:{tasks.get(e["id"], "")}:{e["id"]}', 'ids': e['ids'][:e['lossFrom']], 'media': e.get('media'),
                            'answer': e['ids'][e['lossFrom']:]})
    prompts.append({'name': f'text:long ({len(long_ids)} tokens, window {model.cfg.window})', 'ids': long_ids,
                    'media': None, 'answer': None})
    fixtures = []
    for p in prompts:
        m = p['media']
        logits, greedy = run(model, a.data, p['ids'], m, end_id)
        item = {'name': p['name'], 'ids': p['ids'], 'logits': [round(float(x), 6) for x in logits],
                'greedy': greedy, 'answer': p['answer']}
        if m:
            fn = os.path.basename(m['path'])
            shutil.copyfile(os.path.join(a.data, m['path']), os.path.join(a.out, fn))
            item['media'] = {'kind': m['kind'], 'file': fn, 'start': m['start'], 'rows': m['rows']}
        fixtures.append(item)
        print(f"{p['name']}: greedy {greedy} (answer {p['answer']}), top logit {float(logits.max()):.4f}")
    out = {'about': 'hearth-nano reference (scripts/nano/reference.py): PyTorch f32 forward on the GGUF-rounded '
                    'weights with llama.cpp CPU rounding; last-position logits of each prompt',
           'prompts': fixtures}
    if asst is not None:
        d = []
        for e in picked['text']:
            ids = e['ids'][:e['lossFrom']] + e['ids'][e['lossFrom']:e['lossFrom'] + 1]
            d.append({'ids': ids, 'drafts': drafts(model, asst, ids, 3)})
        out['drafts'] = d
        print('drafts', d)
    json.dump(out, open(os.path.join(a.out, 'reference.json'), 'w'))
    print(f"wrote {a.out}/reference.json ({len(fixtures)} prompts)")


if __name__ == '__main__':
    main()
