"""Train hearth-nano (text model + image/audio projectors), then its MTP assistant on the frozen target, on CPU.

  /usr/bin/python3 scripts/nano/train.py --data DIR --out DIR/weights (--steps N [--decay-from D] | --minutes M)
      [--assistant-steps N] [--smoke] [--seed S]

Reads DIR/vocab.json and DIR/{train,heldout}.tokens.jsonl (+ DIR/images, DIR/audio). AdamW; length-bucketed
batches of at most --batch-tokens padded tokens; loss on the answer tokens only (ids[lossFrom..], the closing <turn|>
included). Learning rate: linear warm-up, then a cosine to 10% by --steps, or with --decay-from D the peak held until
step D and the cosine over [D, steps]. --minutes M: hold the peak until 70% of the budget, then decay over the steps
the measured speed leaves; the log prints the --steps/--decay-from that reproduce the run. Seeded: the same command
gives the same weights. Writes OUT/manifest.json + one little-endian f32 file per GGUF tensor (export.ts makes the
GGUFs from them), OUT/model.pt and OUT/assistant.pt, and prints PyTorch greedy accuracy per held-out task.
"""
import argparse
import json
import math
import os
import random
import sys
import time

# Set before numpy and torch load: torch's OpenMP workers and OpenBLAS's own threads spin while they wait, and on 2
# cores shared with other work the spinning threads starve the computing ones (8 steps: 94 s by default, 4.6 s so).
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import (AssistantConfig, Assistant, Gemma4Nano, MediaConfig, TextConfig, gguf_assistant_tensors,  # noqa: E402
                   gguf_mmproj_tensors, gguf_text_tensors, rope_angles, rope_freqs)
from media_io import audio_frames, image_patches  # noqa: E402

torch.set_num_threads(2)
# subnormal floats (Adam's second moments of tiny gradients, the 1e30-divided RoPE pairs) cost x86 10–20× per op
torch.set_flush_denormal(True)


def log(msg):
    print(msg, flush=True)


def load_jsonl(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


class Media:
    """Decoded media per path: audio kept, images decoded per use (cheap, and 1.9 MB each as f32 patches)."""

    def __init__(self, data_dir, mcfg: MediaConfig, cache_limit=4000):
        self.dir = data_dir
        self.mcfg = mcfg
        self.cache = {}
        self.limit = cache_limit

    def get(self, m):
        key = m['path']
        hit = self.cache.get(key)
        if hit is None:
            p = os.path.join(self.dir, m['path'])
            hit = image_patches(p, self.mcfg.mean, self.mcfg.std) if m['kind'] == 'image' else (audio_frames(p), None)
            if hit[0].shape[0] != m['rows']:
                raise ValueError(f"{key}: {hit[0].shape[0]} rows, the tokens say {m['rows']}")
            if len(self.cache) < self.limit and m['kind'] == 'audio':
                self.cache[key] = hit   # audio is small; images are decoded again each time (~1 ms)
        return hit


def make_batch(model, examples, media: Media, num=None):
    """→ ids [B,T], targets [B,T] (-100 outside the answers), media rows, image spans."""
    T = max(len(e['ids']) for e in examples)
    pad = 0
    ids = torch.full((len(examples), T), pad, dtype=torch.long)
    tgt = torch.full((len(examples), T), -100, dtype=torch.long)
    rows, spans = [], []
    for b, e in enumerate(examples):
        s = torch.tensor(e['ids'])
        ids[b, :len(s)] = s
        lf = e['lossFrom']
        tgt[b, lf - 1:len(s) - 1] = s[lf:]
        m = e.get('media')
        if m:
            x, cols = media.get(m)
            if m['kind'] == 'image':
                r = model.image(x, cols) if num is None else model.image(x, cols, num)
                spans.append((b, m['start'], m['rows']))
            else:
                r = model.audio(x) if num is None else model.audio(x, num)
            rows.append((b, m['start'], r))
    return ids, tgt, rows, spans


class Batches:
    """Seeded epochs of length-bucketed batches: shuffle, sort windows of examples by length, cut batches of at most
    `tokens` padded tokens (a text batch holds ~4× the examples of an image batch), shuffle the batches."""

    def __init__(self, examples, tokens, rng):
        self.examples = examples
        self.tokens = tokens
        self.rng = rng
        self.queue = []
        self.epoch = 0

    def refill(self):
        order = list(range(len(self.examples)))
        self.rng.shuffle(order)
        batches = []
        win = 4096
        for w in range(0, len(order), win):
            chunk = sorted(order[w:w + win], key=lambda i: len(self.examples[i]['ids']))
            cur, longest = [], 0
            for i in chunk:
                n = len(self.examples[i]['ids'])
                if cur and max(longest, n) * (len(cur) + 1) > self.tokens:
                    batches.append(cur)
                    cur, longest = [], 0
                cur.append(i)
                longest = max(longest, n)
            if cur:
                batches.append(cur)
        self.rng.shuffle(batches)
        self.queue = batches
        self.epoch += 1

    def next(self):
        if not self.queue:
            self.refill()
        return [self.examples[i] for i in self.queue.pop()]


def lr_at(step, total, peak, warmup, decay_from=None):
    """Warm-up, then cosine to 10% of peak by `total`; with `decay_from`, constant until then and the cosine over
    [decay_from, total] (warm-up, stable, decay: the decay can start when a time budget says so, reproducibly)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    start = warmup if decay_from is None else decay_from
    if step < start:
        return peak
    t = (step - start) / max(1, total - start)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def make_optimizer(params, lr):
    decay = [p for p in params if p.dim() >= 2]
    other = [p for p in params if p.dim() < 2]
    return torch.optim.AdamW([{'params': decay, 'weight_decay': 0.05}, {'params': other, 'weight_decay': 0.0}],
                             lr=lr, betas=(0.9, 0.95), eps=1e-8)


def fmt(s):
    s = int(s)
    return f'{s // 60}m{s % 60:02d}s'


def train_main(model, train, media, args, rng):
    opt = make_optimizer([p for p in model.parameters()], args.lr)
    total = args.steps
    t0 = time.time()
    budget = args.minutes * 60 if args.minutes else None
    ema = None
    step = 0
    batches = Batches(train, args.batch_tokens, rng)
    decay_from = args.decay_from
    recent = []
    while total is None or step < total:
        if budget and decay_from is None and args.steps is None and time.time() - t0 > 0.7 * budget:
            # the time budget decides when the decay starts and how many steps it gets (from the recent speed)
            per = (recent[-1][1] - recent[0][1]) / max(1, recent[-1][0] - recent[0][0])
            decay_from = step
            total = min(total or 10 ** 9, step + max(20, int((budget - (time.time() - t0)) * 0.95 / per)))
            log(f'time budget: decay from step {decay_from} to {total} ({per:.2f} s/step); reproduce with '
                f'--steps {total} --decay-from {decay_from}')
        recent = (recent + [(step, time.time())])[-50:]
        for g in opt.param_groups:
            g['lr'] = lr_at(step, args.decay_to or total or 10 ** 9, args.lr, args.warmup, decay_from)
        ids, tgt, rows, spans = make_batch(model, batches.next(), media)
        h = model.hidden(ids, rows, spans)
        sel = tgt >= 0
        # the head only where the loss is: the answers are a small part of each sequence
        loss = F.cross_entropy(model.logits(h[sel]), tgt[sel])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        el = time.time() - t0
        if step % args.log_every == 0 or step == total:
            eta = el / step * ((total or step) - step)
            log(f'step {step}/{total or "?"} epoch {batches.epoch} loss {loss.item():.4f} ema {ema:.4f} lr {opt.param_groups[0]["lr"]:.2e} '
                f'elapsed {fmt(el)} eta {fmt(eta)}')
        if budget and el > budget:
            log(f'budget of {args.minutes} min reached at step {step}: stopping early; reproduce with --steps {step} '
                f'--decay-from {decay_from} --decay-to {total}')
            break
        if args.checkpoint_every and step % args.checkpoint_every == 0:
            torch.save(model.state_dict(), os.path.join(args.out, 'model.pt'))
    return step, ema


@torch.no_grad()
def greedy_answer(model, e, media, max_new=24, end_id=None):
    ids = list(e['ids'][:e['lossFrom']])
    m = e.get('media')
    rows, spans = [], []
    if m:
        x, cols = media.get(m)
        if m['kind'] == 'image':
            rows.append((0, m['start'], model.image(x, cols)))
            spans.append((0, m['start'], m['rows']))
        else:
            rows.append((0, m['start'], model.audio(x)))
    out = []
    for _ in range(max_new):
        t = torch.tensor([ids])
        nxt = int(model(t, rows, spans)[0, -1].argmax())
        if nxt == end_id:
            break
        out.append(nxt)
        ids.append(nxt)
    return out


@torch.no_grad()
def evaluate(model, heldout, media, end_id, per_kind, rng):
    model.eval()
    by = {}
    for e in heldout:
        by.setdefault(e.get('task') or (e.get('media') or {}).get('kind', 'text'), []).append(e)
    res = {}
    for task, es in sorted(by.items()):
        sample = es if len(es) <= per_kind else rng.sample(es, per_kind)
        ok = 0
        for e in sample:
            want = e['ids'][e['lossFrom']:]
            got = greedy_answer(model, e, media, max_new=len(want) + 2, end_id=end_id)
            ok += got + [end_id] == want
        res[task] = (ok, len(sample))
    model.train()
    return res


def assistant_train(target, asst, train, media, args, rng):
    """Train the drafter on the frozen target: at every answer position p, draft step 0 gets (x_p, h_{p-1}) and
    predicts x_{p+1}; step 1 gets (x_{p+1}, h_next) at the same position and predicts x_{p+2} — as llama.cpp's loop."""
    for p in target.parameters():
        p.requires_grad_(False)
    tc = target.cfg
    L = tc.layers
    ls, lf = L - 2, L - 1
    assert target.blocks[ls].sliding and not target.blocks[lf].sliding
    opt = make_optimizer(list(asst.parameters()), args.lr)
    total = args.assistant_steps
    batches = Batches(train, args.batch_tokens, rng)
    t0 = time.time()
    ema = None
    for step in range(total):
        for g in opt.param_groups:
            g['lr'] = lr_at(step, total, args.lr, min(args.warmup, total // 5 + 1))
        batch = batches.next()
        with torch.no_grad():
            ids, tgt, rows, spans = make_batch(target, batch, media)
            h, kv = target.hidden(ids, rows, spans, return_kv=True)
        B, T = ids.shape
        # query position p (1..T-2) sees target cells < p (sliding: p - cell < window)
        i = torch.arange(T)
        vis = i[None, :] < i[:, None]
        vis[0, 0] = True   # position 0 has no earlier cell; its rows are outside the loss anyway
        mask_f = vis[None].expand(B, T, T)
        mask_s = (vis & (i[:, None] - i[None, :] < tc.window))[None].expand(B, T, T)
        cs = {True: rope_angles(T, tc.head_dim, tc.rope_base_swa),
              False: rope_angles(T, tc.head_dim_full, tc.rope_base, rope_freqs(tc))}
        # step 0 at position p: token ids[p], hidden h[p-1]; target ids[p+1]  (answer region: tgt[p] != -100)
        h_prev = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)
        lg0, hn = asst.step(target.embed, ids, h_prev, kv[ls], kv[lf], cs, mask_s, mask_f)
        loss0 = F.cross_entropy(lg0[:, 1:].reshape(-1, lg0.shape[-1]), tgt[:, 1:].reshape(-1), ignore_index=-100)
        # step 1: token ids[p+1] (the accepted draft), h_next of step 0, same position p; target ids[p+2]
        tok1 = torch.cat([ids[:, 1:], ids[:, -1:]], dim=1)
        tgt1 = torch.cat([tgt[:, 1:], torch.full_like(tgt[:, :1], -100)], dim=1)
        lg1, _ = asst.step(target.embed, tok1, hn, kv[ls], kv[lf], cs, mask_s, mask_f)
        loss1 = F.cross_entropy(lg1[:, 1:].reshape(-1, lg1.shape[-1]), tgt1[:, 1:].reshape(-1), ignore_index=-100)
        loss = loss0 + 0.5 * loss1
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(asst.parameters(), 1.0)
        opt.step()
        ema = loss0.item() if ema is None else 0.95 * ema + 0.05 * loss0.item()
        if (step + 1) % args.log_every == 0 or step + 1 == total:
            el = time.time() - t0
            log(f'assistant step {step + 1}/{total} loss0 {loss0.item():.4f} loss1 {loss1.item():.4f} ema0 {ema:.4f} '
                f'elapsed {fmt(el)} eta {fmt(el / (step + 1) * (total - step - 1))}')
    return ema


def write_weights(out, section, pairs, manifest):
    items = []
    for name, t in pairs:
        a = t.detach().float().contiguous().numpy().astype('<f4')
        fn = f'{section}.{name}.f32'
        a.tofile(os.path.join(out, fn))
        items.append({'name': name, 'shape': list(a.shape), 'file': fn})
    manifest[section]['tensors'] = items


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--steps', type=int)
    ap.add_argument('--minutes', type=float)
    ap.add_argument('--smoke', action='store_true', help='20 steps (and 10 assistant steps), tiny eval')
    ap.add_argument('--seed', type=int, default=1234)
    ap.add_argument('--batch', type=int, default=16, help='sequences per assistant step')
    ap.add_argument('--batch-tokens', type=int, default=1024, help='padded tokens per main training step')
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--warmup', type=int, default=60)
    ap.add_argument('--decay-from', type=int, help='hold the peak LR until this step, then cosine-decay to --steps '
                    '(what a --minutes run logs, to reproduce it)')
    ap.add_argument('--decay-to', type=int, help='end of the decay when a run stopped before it (default: --steps)')
    ap.add_argument('--assistant-steps', type=int, default=0)
    ap.add_argument('--eval-per-task', type=int, default=25)
    ap.add_argument('--log-every', type=int, default=10)
    ap.add_argument('--checkpoint-every', type=int, default=200)
    ap.add_argument('--embd', type=int, default=256)
    ap.add_argument('--ff', type=int, default=768)
    ap.add_argument('--init', help='start from this model.pt (skip the main training when --steps 0)')
    args = ap.parse_args()
    if args.smoke:
        args.steps, args.minutes, args.assistant_steps = 20, None, max(args.assistant_steps and 10, 10)
        args.eval_per_task, args.log_every, args.warmup = 4, 5, 5
    if args.steps is None and not args.minutes:
        ap.error('give --steps N or --minutes M')
    os.makedirs(args.out, exist_ok=True)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)

    vocab = json.load(open(os.path.join(args.data, 'vocab.json')))
    train = load_jsonl(os.path.join(args.data, 'train.tokens.jsonl'))
    heldout = load_jsonl(os.path.join(args.data, 'heldout.tokens.jsonl'))
    tasks = {}
    for fn in ('train.jsonl', 'heldout.jsonl'):
        p = os.path.join(args.data, fn)
        if os.path.exists(p):
            for r in load_jsonl(p):
                tasks[r['id']] = r.get('task', r.get('kind'))
    for e in train + heldout:
        e['task'] = tasks.get(e['id'], (e.get('media') or {}).get('kind', 'text'))
    V = len(vocab['tokens'])
    max_len = max(len(e['ids']) for e in train + heldout)
    cfg = TextConfig(vocab=V, embd=args.embd, ff=args.ff)
    mcfg = MediaConfig()
    acfg = AssistantConfig()
    log(f'data: {len(train)} train, {len(heldout)} held-out, vocab {V}, longest {max_len} tokens; '
        f'model {cfg}; torch threads {torch.get_num_threads()}')
    model = Gemma4Nano(cfg, mcfg)
    if args.init:
        model.load_state_dict(torch.load(args.init))
    n_params = sum(p.numel() for p in model.parameters())
    log(f'parameters: {n_params / 1e6:.2f} M (text {sum(p.numel() for n, p in model.named_parameters() if not n.startswith(("image", "audio"))) / 1e6:.2f} M)')
    media = Media(args.data, mcfg)
    t0 = time.time()
    steps, ema = 0, None
    if args.steps != 0:
        steps, ema = train_main(model, train, media, args, rng)
    t_main = time.time() - t0
    torch.save(model.state_dict(), os.path.join(args.out, 'model.pt'))
    manifest = {'vocab': os.path.abspath(os.path.join(args.data, 'vocab.json')),
                'text': {'config': cfg.__dict__}, 'mmproj': {'config': mcfg.__dict__},
                'train': {'command': ' '.join(sys.argv), 'steps': steps, 'seconds': round(t_main),
                          'final_loss_ema': ema, 'seed': args.seed}}
    write_weights(args.out, 'text', gguf_text_tensors(model), manifest)
    write_weights(args.out, 'mmproj', gguf_mmproj_tensors(model), manifest)
    json.dump(manifest, open(os.path.join(args.out, 'manifest.json'), 'w'), indent=1)
    log(f'wrote the main weights to {args.out} (export.ts can run now)')
    end_id = vocab['tokens'].index('<turn|>')
    res = evaluate(model, heldout, media, end_id, args.eval_per_task, random.Random(args.seed + 1))
    for task, (ok, n) in res.items():
        log(f'held-out {task}: {ok}/{n} = {100 * ok / max(1, n):.1f}% exact (PyTorch greedy)')
    manifest['train']['heldout'] = {k: list(v) for k, v in res.items()}

    if args.assistant_steps:
        torch.manual_seed(args.seed + 7)
        asst = Assistant(cfg, acfg)
        t1 = time.time()
        aema = assistant_train(model, asst, train, media, args, random.Random(args.seed + 2))
        torch.save(asst.state_dict(), os.path.join(args.out, 'assistant.pt'))
        manifest['assistant'] = {'config': acfg.__dict__}
        manifest['train']['assistant'] = {'steps': args.assistant_steps, 'seconds': round(time.time() - t1),
                                          'final_loss0_ema': aema}
        write_weights(args.out, 'assistant', gguf_assistant_tensors(asst), manifest)
    json.dump(manifest, open(os.path.join(args.out, 'manifest.json'), 'w'), indent=1)
    log(f'wrote {args.out}/manifest.json (main training {fmt(t_main)}, total {fmt(time.time() - t0)})')


if __name__ == '__main__':
    main()
