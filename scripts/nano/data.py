"""hearth-nano's training and held-out data: short tasks with one exact answer each (issue 6).

  /usr/bin/python3 scripts/nano/data.py --out DIR --seed S [--n-text N --n-image N --n-audio N]
                                        [--heldout-text N --heldout-image N --heldout-audio N]

Writes DIR/train.jsonl, DIR/heldout.jsonl, DIR/images/*.png (480×336 RGB, the 10×7 grid of 48-px patches, so the
engine never resizes them) and DIR/audio/*.wav (16 kHz mono s16, ≤ 1.5 s, from espeak-ng). One example per line:
{"id", "task", "kind": "text"|"image"|"audio", "prompt", "media": null|"images/x.png"|"audio/x.wav",
 "mediaFirst": bool (media before or after the prompt text), "answer"}.

Everything follows from --seed: the same seed gives byte-identical files. A held-out example never repeats a
training example: each task has a key (the operands, or the drawing/voice parameters) and keys seen in training are
redrawn for the held-out split, which uses its own random stream.

The model that learns this is tiny and trains for under an hour on 2 CPU cores, so each task has one fixed prompt,
digits stay separate tokens (see vocab.ts), and the drawings sit on the 48-px patch grid: the image projector is a
linear map of each 48×48 patch, with no vision encoder to find a glyph at an arbitrary offset.
"""
import argparse
import io
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import wave

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT, PATCH = 480, 336, 48
RATE = 16000
MAX_SECONDS = 1.5
FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf'

# Text tasks --------------------------------------------------------------------------------------------------------

# Short, common, lower-case words (3–6 letters) for the word tasks; a fixed list so the vocabulary stays small.
WORDS = """
cat dog sun moon star tree book fish bird frog lion bear wolf fox duck cow pig goat horse mouse apple pear plum
grape lemon melon bread milk cake rice soup salt egg cup box bag hat shoe sock coat ring door wall road hill lake
sea rain snow wind fire rock sand leaf rose seed farm town city park ship boat car bus train plane bike key lamp
desk chair bed sofa clock phone pen ink paper map gold iron wood glass stone king queen baby girl boy man hand foot
head nose eye ear arm leg heart mind song game ball kite drum bell gift card note word page line code data time day
night week year blue red green black white pink gray brown happy sad fast slow big small hot cold new old good
bad tall short dark light soft hard warm cool quiet loud
""".split()

KEYS = ['name', 'age', 'city', 'color', 'size', 'pet', 'food', 'year', 'id', 'score']

ITEMS = ['apple', 'pear', 'cat', 'dog', 'ball', 'cup', 'star', 'box']


def task_add(rng):
    a, b = rng.randint(0, 50), rng.randint(0, 50)
    return ('add', (a, b), f'What is {a} + {b}?', str(a + b))


def task_sub(rng):
    a = rng.randint(0, 50)
    b = rng.randint(0, a)
    return ('sub', (a, b), f'What is {a} - {b}?', str(a - b))


def task_mul(rng):
    a, b = rng.randint(0, 12), rng.randint(0, 12)
    return ('mul', (a, b), f'What is {a} * {b}?', str(a * b))


def task_count_letters(rng):
    w = rng.choice(WORDS)
    return ('count_letters', (w,), f'How many letters are in {w}?', str(len(w)))


def task_count_items(rng):
    n = rng.randint(1, 9)
    target = rng.choice(ITEMS)
    others = [i for i in ITEMS if i != target]
    words = [target] * n + [rng.choice(others) for _ in range(rng.randint(0, 6))]
    rng.shuffle(words)
    listing = ' '.join(words)
    return ('count_items', (target, listing), f'How many {target} in: {listing}', str(n))


def task_spell(rng):
    w = rng.choice(WORDS)
    return ('spell', (w,), f'Spell {w}.', ' '.join(w))


def task_reverse(rng):
    w = rng.choice(WORDS)
    # letters apart, as in spelling: a reversed word is no word, and BPE would cut it into arbitrary pieces
    return ('reverse', (w,), f'Reverse {w}.', ' '.join(reversed(w)))


def task_json(rng):
    keys = rng.sample(KEYS, rng.randint(1, 3))
    pairs = []
    for k in keys:
        v = rng.randint(0, 99) if rng.random() < 0.5 else rng.choice(WORDS)
        pairs.append((k, v))
    listing = ', '.join(f'{k}={v}' for k, v in pairs)
    obj = ', '.join(f'"{k}": {v}' if isinstance(v, int) else f'"{k}": "{v}"' for k, v in pairs)
    return ('json', tuple(pairs), f'As JSON: {listing}', '{' + obj + '}')


def task_copy(rng):
    words = [rng.choice(WORDS) for _ in range(rng.randint(1, 4))]
    s = ' '.join(words)
    return ('copy', tuple(words), f'Copy: {s}', s)


TEXT_TASKS = [task_add, task_sub, task_mul, task_count_letters, task_count_items, task_spell, task_reverse, task_json,
              task_copy]

# Image tasks -------------------------------------------------------------------------------------------------------

COLOURS = {
    'red': (220, 30, 30), 'green': (20, 160, 50), 'blue': (30, 70, 220),
    'yellow': (235, 200, 20), 'orange': (245, 130, 20), 'purple': (140, 40, 180),
}
SHAPES = ['circle', 'square', 'triangle', 'diamond', 'cross']
# Patch-grid cell (column, row) the shape is centred on; the grid is 10 × 7 cells.
POSITIONS = {'left': (1.5, 3.5), 'right': (8.5, 3.5), 'top': (5.0, 1.5), 'bottom': (5.0, 5.5), 'centre': (5.0, 3.5)}
BACKGROUNDS = [(255, 255, 255), (240, 240, 240), (250, 245, 235), (235, 240, 250)]
INKS = [(0, 0, 0), (40, 40, 40), (20, 20, 90), (90, 20, 20)]


def draw_shape(draw, shape, cx, cy, r, fill):
    if shape == 'circle':
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == 'square':
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == 'triangle':
        draw.polygon([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)], fill=fill)
    elif shape == 'diamond':
        draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=fill)
    elif shape == 'cross':
        t = max(6, r // 3)
        draw.rectangle([cx - r, cy - t, cx + r, cy + t], fill=fill)
        draw.rectangle([cx - t, cy - r, cx + t, cy + r], fill=fill)
    else:
        raise ValueError(shape)


def image_shape(rng):
    shape, colour, where = rng.choice(SHAPES), rng.choice(list(COLOURS)), rng.choice(list(POSITIONS))
    r = rng.choice([36, 42, 48, 54])
    jx, jy = rng.randint(-6, 6), rng.randint(-6, 6)
    bg = rng.randrange(len(BACKGROUNDS))
    question = rng.choice(['colour', 'shape', 'position'])
    key = ('shape', shape, colour, where, r, jx, jy, bg, question)

    def render():
        img = Image.new('RGB', (WIDTH, HEIGHT), BACKGROUNDS[bg])
        col, row = POSITIONS[where]
        draw_shape(ImageDraw.Draw(img), shape, int(col * PATCH) + jx, int(row * PATCH) + jy, r, COLOURS[colour])
        return img

    prompt, answer = {
        'colour': ('What colour is the shape?', colour),
        'shape': ('What shape is this?', shape),
        'position': ('Where is the shape?', where),
    }[question]
    return (f'image_{question}', key, prompt, answer, render)


_fonts = {}


def font(size):
    if size not in _fonts:
        _fonts[size] = ImageFont.truetype(FONT, size)
    return _fonts[size]


def image_number(rng):
    n = rng.randint(0, 99)
    digits = str(n)
    # one digit per patch cell, the number's cells chosen on the grid, a few pixels of jitter
    col = rng.randint(1, 10 - 1 - len(digits))
    row = rng.randint(1, 5)
    size = rng.choice([38, 42, 46])
    jx, jy = rng.randint(-3, 3), rng.randint(-3, 3)
    bg, ink = rng.randrange(len(BACKGROUNDS)), rng.randrange(len(INKS))
    key = ('number', n, col, row, size, jx, jy, bg, ink)

    def render():
        img = Image.new('RGB', (WIDTH, HEIGHT), BACKGROUNDS[bg])
        draw = ImageDraw.Draw(img)
        f = font(size)
        for i, d in enumerate(digits):
            cx = (col + i) * PATCH + PATCH // 2 + jx
            cy = row * PATCH + PATCH // 2 + jy
            draw.text((cx, cy), d, font=f, fill=INKS[ink], anchor='mm')
        return img

    return ('image_number', key, 'What number is written?', digits, render)


def image_task(rng):
    return image_number(rng) if rng.random() < 0.3 else image_shape(rng)

# Audio tasks -------------------------------------------------------------------------------------------------------


DIGIT_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine']
SPOKEN_WORDS = ['yes', 'no', 'hello', 'stop', 'go', 'left', 'right', 'up', 'down', 'red', 'blue', 'green']
VOICES = ['en-us', 'en', 'en-gb-x-rp', 'en-029', 'en-gb-scotland', 'en-gb-x-gbclan']
VARIANTS = ['', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'f1', 'f2', 'f3', 'f4', 'f5', 'klatt', 'klatt2', 'klatt3',
            'Andy', 'Annie', 'david', 'john', 'linda', 'max', 'paul', 'rob', 'robert', 'steph', 'zac']
TRANSCRIBE = 'Transcribe audio to text'


def audio_task(rng):
    # digits are the target; a few short words keep the answers from being one closed set of ten
    word = rng.choice(DIGIT_WORDS) if rng.random() < 0.7 else rng.choice(SPOKEN_WORDS)
    voice = rng.choice(VOICES)
    variant = rng.choice(VARIANTS)
    speed = rng.randint(140, 220)
    pitch = rng.randint(25, 75)
    gain = rng.choice([0.5, 0.7, 0.9])
    task = 'audio_digit' if word in DIGIT_WORDS else 'audio_word'
    key = ('audio', word, voice, variant, speed, pitch, gain)

    def render():
        return speak(word, voice + (f'+{variant}' if variant else ''), speed, pitch, gain)

    return (task, key, TRANSCRIBE, word, render)


def espeak_pcm(text, voice, speed, pitch):
    """espeak-ng's own output: s16 mono at its native rate (22050 Hz)."""
    out = subprocess.run(['espeak-ng', '-v', voice, '-s', str(speed), '-p', str(pitch), '--stdout', text],
                         check=True, capture_output=True).stdout
    if out[:4] != b'RIFF' or out[8:12] != b'WAVE':
        raise RuntimeError(f'espeak-ng gave no WAV for {text!r} ({voice})')
    # espeak streams to stdout, so its chunk sizes are placeholders: walk the chunks and take the rest as data
    pos, rate = 12, None
    while pos + 8 <= len(out):
        cid, size = out[pos:pos + 4], struct.unpack('<I', out[pos + 4:pos + 8])[0]
        if cid == b'fmt ':
            fmt, channels, rate = struct.unpack('<HHI', out[pos + 8:pos + 16])
            bits = struct.unpack('<H', out[pos + 22:pos + 24])[0]
            if fmt != 1 or channels != 1 or bits != 16:
                raise RuntimeError(f'espeak-ng WAV format {fmt}/{channels}ch/{bits}bit is not s16 mono')
        elif cid == b'data':
            data = out[pos + 8:]
            return np.frombuffer(data[:len(data) // 2 * 2], dtype='<i2').astype(np.float64) / 32768.0, rate
        pos += 8 + size + (size & 1)
    raise RuntimeError('espeak-ng WAV has no data chunk')


def resample(x, src, dst, taps_per_side=24):
    """Band-limited polyphase resampling by dst/src (windowed-sinc FIR, Kaiser β = 8.6, cut-off just below the lower
    Nyquist). Output sample n sits at input time n·src/dst; its filter phase is (n·src mod dst)/dst."""
    from math import gcd
    g = gcd(src, dst)
    up, down = dst // g, src // g
    cutoff = 0.94 * min(1.0, up / down)  # of the input Nyquist
    k = np.arange(-taps_per_side + 1, taps_per_side + 1)  # tap offsets relative to floor(t)
    phases = np.arange(up) / up  # fractional part of t
    d = k[None, :] - phases[:, None]  # distance from t to each tap
    beta = 8.6
    window = np.i0(beta * np.sqrt(np.clip(1 - (d / taps_per_side) ** 2, 0, 1))) / np.i0(beta)
    h = cutoff * np.sinc(cutoff * d) * window
    h /= h.sum(axis=1, keepdims=True)  # unit DC gain for every phase
    n_out = (len(x) * up) // down
    n = np.arange(n_out)
    base = (n * down) // up
    phase = (n * down) % up
    padded = np.concatenate([np.zeros(taps_per_side), x, np.zeros(taps_per_side + 1)])
    idx = base[:, None] + k[None, :] + taps_per_side
    return (padded[idx] * h[phase]).sum(axis=1)


def trim_silence(x, threshold=0.01, margin=0.03, rate=RATE):
    loud = np.flatnonzero(np.abs(x) > threshold)
    if len(loud) == 0:
        return x
    m = int(margin * rate)
    return x[max(0, loud[0] - m):min(len(x), loud[-1] + m)]


def speak(text, voice, speed, pitch, gain):
    """→ 16 kHz mono s16 samples, speech trimmed of silence, peak at `gain`, at most MAX_SECONDS."""
    for attempt in range(4):
        pcm, rate = espeak_pcm(text, voice, speed, pitch)
        x = trim_silence(resample(pcm, rate, RATE))
        if len(x) <= MAX_SECONDS * RATE:
            break
        speed += 40  # too slow for the frame budget: say it faster
    else:
        x = x[:int(MAX_SECONDS * RATE)]
    peak = np.max(np.abs(x)) or 1.0
    return np.clip(np.round(x * (gain / peak) * 32767), -32768, 32767).astype('<i2')


def write_wav(path, samples):
    buf = io.BytesIO()
    with wave.open(buf, 'wb') as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())
    with open(path, 'wb') as f:
        f.write(buf.getvalue())

# Splits ------------------------------------------------------------------------------------------------------------


def commuted(task, key):
    """The operands swapped, for facts that a held-out example may only ask if training can teach them (a*b from b*a)."""
    return (key[1], key[0]) if task in ('add', 'mul') else None


# Held-out examples per task for tasks with a small key space (the multiplication table, the word list): at most this
# many keys of such a task are kept out of training.
SMALL_TASK_CAP = {'mul': 16, 'count_letters': 16, 'spell': 16, 'reverse': 16}


def draw_split(rng, make, n, split, kind, out, examples, exclude=None, caps=None):
    """n examples from `make`; keys in `exclude` are redrawn. Returns the set of keys drawn. With `caps`, a task's
    keys are unique within the split and at most caps[task] of them are drawn (the held-out split)."""
    keys, per_task = set(), {}
    made, tries = 0, 0
    while made < n:
        tries += 1
        if tries > 200 * n + 1000:
            raise RuntimeError(f'{split}/{kind}: only {made} of {n} examples after {tries} draws; ask for fewer')
        drawn = make(rng)
        task, key, prompt, answer = drawn[:4]
        full = (task, key)
        if exclude is not None and full in exclude:
            continue
        if caps is not None:
            if full in keys or per_task.get(task, 0) >= caps.get(task, n):
                continue
            c = commuted(task, key)
            if c is not None and (c == key or (task, c) in keys):
                continue  # a held-out fact must have its commuted twin left to training
        keys.add(full)
        per_task[task] = per_task.get(task, 0) + 1
        ex_id = f'{split}-{kind}-{made:06d}'
        media = None
        if kind == 'image':
            media = f'images/{ex_id}.png'
            img = drawn[4]()
            assert img.size == (WIDTH, HEIGHT) and img.mode == 'RGB'
            img.save(os.path.join(out, media), compress_level=6)
        elif kind == 'audio':
            media = f'audio/{ex_id}.wav'
            write_wav(os.path.join(out, media), drawn[4]())
        examples.append({'id': ex_id, 'task': task, 'kind': kind, 'prompt': prompt, 'media': media,
                         'mediaFirst': (rng.random() < 0.5) if media else False, 'answer': answer})
        made += 1
    return keys


def text_task(rng):
    return rng.choice(TEXT_TASKS)(rng)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', required=True)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--n-text', type=int, default=30000)
    p.add_argument('--n-image', type=int, default=6000)
    p.add_argument('--n-audio', type=int, default=4000)
    p.add_argument('--heldout-text', type=int, default=None, help='default: n-text/20, at most 500')
    p.add_argument('--heldout-image', type=int, default=None, help='default: n-image/10, at most 300')
    p.add_argument('--heldout-audio', type=int, default=None, help='default: n-audio/10, at most 200')
    a = p.parse_args(argv)
    held = {
        'text': a.heldout_text if a.heldout_text is not None else min(500, max(1, a.n_text // 20)),
        'image': a.heldout_image if a.heldout_image is not None else min(300, max(1, a.n_image // 10)),
        'audio': a.heldout_audio if a.heldout_audio is not None else min(200, max(1, a.n_audio // 10)),
    }
    if shutil.which('espeak-ng') is None and (a.n_audio or held['audio']):
        sys.exit('data.py: espeak-ng is not installed (apt-get install espeak-ng), or pass --n-audio 0 --heldout-audio 0')
    os.makedirs(os.path.join(a.out, 'images'), exist_ok=True)
    os.makedirs(os.path.join(a.out, 'audio'), exist_ok=True)
    makers = {'text': text_task, 'image': image_task, 'audio': audio_task}
    sizes = {'text': a.n_text, 'image': a.n_image, 'audio': a.n_audio}
    train, heldout = [], []
    for kind in ('text', 'image', 'audio'):
        # held-out keys first, then training draws around them; separate random streams per kind and split, so
        # changing one size leaves the other kinds' files alone
        kept = draw_split(random.Random(f'{a.seed}/heldout/{kind}'), makers[kind], held[kind], 'heldout', kind, a.out,
                          heldout, caps=SMALL_TASK_CAP)
        draw_split(random.Random(f'{a.seed}/train/{kind}'), makers[kind], sizes[kind], 'train', kind, a.out, train,
                   exclude=kept)
    random.Random(f'{a.seed}/shuffle').shuffle(train)
    for name, rows in (('train', train), ('heldout', heldout)):
        with open(os.path.join(a.out, f'{name}.jsonl'), 'w') as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + '\n')
    tasks = {}
    for r in train:
        tasks[r['task']] = tasks.get(r['task'], 0) + 1
    print(f'data.py: {len(train)} train, {len(heldout)} held-out examples in {a.out}; train tasks {tasks}',
          file=sys.stderr)


if __name__ == '__main__':
    main(sys.argv[1:])
