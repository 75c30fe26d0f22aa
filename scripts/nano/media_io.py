"""Model inputs from the data files, exactly as hearth's engine (and llama.cpp) builds them from the same bytes:
image patches (§8.3 steps 6–7, §8.4 step 1) from 8-bit RGB pixels: v = u8 / 255 in f32, (v − mean_c) / std_c, CHW
48×48 patches enumerated row-major, element c·2304 + r·48 + q; audio frames (§9.2): s16 / 32768, 640-sample frames,
the last zero-padded. The data's images are grid-exact (480×336), so there is no resize anywhere."""
import wave

import numpy as np
import torch
from PIL import Image

PATCH = 48
FRAME = 640


def image_patches(path, mean, std):
    """→ (patches [rows·cols, 6912] f32, cols)."""
    img = np.asarray(Image.open(path).convert('RGB'), dtype=np.uint8)
    H, W, _ = img.shape
    if H % PATCH or W % PATCH:
        raise ValueError(f'{path}: {W}x{H} is not a multiple of {PATCH} (the data must be grid-exact)')
    v = img.astype(np.float32) / np.float32(255.0)
    v = (v - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    rows, cols = H // PATCH, W // PATCH
    chw = v.transpose(2, 0, 1).reshape(3, rows, PATCH, cols, PATCH)
    patches = chw.transpose(1, 3, 0, 2, 4).reshape(rows * cols, 3 * PATCH * PATCH)
    return torch.from_numpy(np.ascontiguousarray(patches)), cols


def audio_frames(path):
    """→ frames [ceil(n/640), 640] f32."""
    with wave.open(str(path), 'rb') as w:
        if w.getsampwidth() != 2 or w.getframerate() != 16000:
            raise ValueError(f'{path}: expected 16 kHz s16 audio')
        ch = w.getnchannels()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype='<i2').astype(np.float32)
    if ch > 1:
        pcm = pcm.reshape(-1, ch).mean(axis=1)
    pcm = pcm / np.float32(32768.0)
    n = -(-len(pcm) // FRAME)
    out = np.zeros(n * FRAME, np.float32)
    out[:len(pcm)] = pcm
    return torch.from_numpy(out.reshape(n, FRAME))
