"""hearth-nano: Gemma 4 12B's text architecture in miniature, its encoder-free image (gemma4uv) and audio (gemma4ua)
projectors, and the gemma4-assistant MTP drafter, in PyTorch (spec /work/shared/spec/gemma4.md §5, §8.4, §9.2, §10).

The forward is the one llama.cpp runs (not HF's where they differ): token rows scaled by sqrtf(n_embd) in f32, media
rows unscaled; score scale 1; NEOX RoPE with llama.cpp's iterated-float angles; proportional RoPE on full layers via
rope_freqs (1 for the rotated pairs, 1e30 for the rest); K = V on full layers (V taken before K's norm and RoPE);
weightless V norm; image rows non-causal among themselves on sliding layers only (llama.cpp v0.5.0's SWA_ONLY).

`Numerics` switches the reference forward to llama.cpp's CPU rounding (F16 activations into F16 matmuls, F16 KV
cache, F16 attention probabilities, the F16 GELU table): training runs with it off.
"""
import math
from dataclasses import dataclass, asdict, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class TextConfig:
    vocab: int
    embd: int = 256
    layers: int = 6
    heads: int = 4
    kv_heads: int = 2          # sliding layers
    kv_heads_full: int = 1     # full layers (the 12B: 8 / 1)
    head_dim: int = 64         # sliding layers
    head_dim_full: int = 128   # full layers (the 12B: 256 / 512)
    ff: int = 768
    window: int = 128
    full_every: int = 6        # layer i is full iff (i + 1) % full_every == 0: 5 sliding : 1 full, last full
    partial_rotary: float = 0.25
    rope_base: float = 1e6
    rope_base_swa: float = 1e4
    softcap: float = 30.0
    eps: float = 1e-6
    ctx: int = 2048

    def sliding(self, i: int) -> bool:
        return (i + 1) % self.full_every != 0


@dataclass
class MediaConfig:
    patch: int = 48
    pos_rows: int = 1120       # the 12B's position tables: 1120 rows per axis
    frame: int = 640           # audio samples per soft token (40 ms at 16 kHz)
    mean: list = field(default_factory=lambda: [0.5, 0.5, 0.5])
    std: list = field(default_factory=lambda: [0.5, 0.5, 0.5])


@dataclass
class AssistantConfig:
    embd: int = 128
    layers: int = 4            # sliding × 3, then full (the 12B's assistant)
    heads: int = 4
    ff: int = 512


class Numerics:
    """Identity in training; llama.cpp's CPU rounding in the reference (emulate=True)."""

    def __init__(self, emulate: bool = False):
        self.emulate = emulate

    def f16(self, x):
        return x.half().float() if self.emulate else x

    def gelu_mul(self, g, u):
        if not self.emulate:
            return F.gelu(g, approximate='tanh') * u
        # ggml's CPU GELU: a table indexed by the f16 input, holding f16(gelu(f32(f16 x))); ±10 clamps
        gh = g.half().float()
        y = F.gelu(gh, approximate='tanh').half().float()
        y = torch.where(g <= -10, torch.zeros_like(g), torch.where(g >= 10, g, y))
        return y * u


PLAIN = Numerics(False)


def rms(x, w=None, eps=1e-6):
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return y * w if w is not None else y


def rope_angles(n_pos: int, n_rot: int, base: float, factors=None):
    """cos, sin [n_pos, n_rot/2] with llama.cpp's arithmetic: theta_scale = powf(base, -2/n_rot), theta iterated in f32."""
    half = n_rot // 2
    scale = np.float32(np.power(np.float32(base), np.float32(-2.0) / np.float32(n_rot), dtype=np.float32))
    theta = np.arange(n_pos, dtype=np.float32)
    ang = np.empty((n_pos, half), dtype=np.float32)
    for i in range(half):
        ff = np.float32(1.0) if factors is None else np.float32(factors[i])
        ang[:, i] = theta / ff
        theta = (theta * scale).astype(np.float32)
    a = torch.from_numpy(ang)
    return torch.cos(a), torch.sin(a)


def rope_freqs(cfg: TextConfig) -> np.ndarray:
    """rope_freqs.weight (spec §4): 1 for the int(head_dim_full * partial / 2) rotated pairs, 1e30 for the rest."""
    rotated = int(cfg.head_dim_full * cfg.partial_rotary / 2)
    f = np.full(cfg.head_dim_full // 2, 1e30, dtype=np.float32)
    f[:rotated] = 1.0
    return f


def apply_rope(x, cos, sin):
    """NEOX pairing (i, i + n/2) over the whole head. x [..., T, hd]; cos/sin [T, hd/2]."""
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: TextConfig, sliding: bool, q_only: bool = False, embd: int = None, heads: int = None):
        super().__init__()
        E = embd or cfg.embd
        H = heads or cfg.heads
        self.sliding = sliding
        self.hd = cfg.head_dim if sliding else cfg.head_dim_full
        self.n_kv = cfg.kv_heads if sliding else cfg.kv_heads_full
        self.H = H
        self.q = nn.Linear(E, H * self.hd, bias=False)
        # score scale is 1: a q-norm weight of hd^-1/2 starts the scores at unit scale
        self.q_norm = nn.Parameter(torch.full((self.hd,), self.hd ** -0.5))
        if not q_only:
            self.k = nn.Linear(E, self.n_kv * self.hd, bias=False)
            self.v = nn.Linear(E, self.n_kv * self.hd, bias=False) if sliding else None  # K = V on full layers
            self.k_norm = nn.Parameter(torch.ones(self.hd))
        self.o = nn.Linear(H * self.hd, E, bias=False)

    def project_q(self, a, cos, sin, num):
        B, T, _ = a.shape
        q = self.q(num.f16(a)).view(B, T, self.H, self.hd)
        q = rms(q, self.q_norm).transpose(1, 2)
        return apply_rope(q, cos, sin)                             # [B, H, T, hd]

    def project_kv(self, a, cos, sin, num):
        B, T, _ = a.shape
        a16 = num.f16(a)
        k = self.k(a16).view(B, T, self.n_kv, self.hd)
        v = (self.v(a16).view(B, T, self.n_kv, self.hd) if self.v is not None else k)
        v = rms(v).transpose(1, 2)
        k = apply_rope(rms(k, self.k_norm).transpose(1, 2), cos, sin)
        return num.f16(k), num.f16(v)                              # the F16 KV cache

    def attend(self, q, k, v, mask, num):
        """q [B,H,Tq,hd], k/v [B,kv,Tk,hd], mask [B or 1, Tq, Tk] (True = visible)."""
        rep = self.H // k.shape[1]
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        s = torch.matmul(num.f16(q), k.transpose(-1, -2))
        s = s.masked_fill(~mask[:, None], float('-inf'))
        p = num.f16(torch.softmax(s, dim=-1))
        o = torch.matmul(p, v)                                     # [B,H,Tq,hd]
        B, H, T, hd = o.shape
        return self.o(num.f16(o.transpose(1, 2).reshape(B, T, H * hd)))


class FFN(nn.Module):
    def __init__(self, E, ff):
        super().__init__()
        self.gate = nn.Linear(E, ff, bias=False)
        self.up = nn.Linear(E, ff, bias=False)
        self.down = nn.Linear(ff, E, bias=False)

    def forward(self, f, num):
        f16 = num.f16(f)
        return self.down(num.f16(num.gelu_mul(self.gate(f16), self.up(f16))))


class Block(nn.Module):
    def __init__(self, cfg: TextConfig, sliding: bool, q_only=False, embd=None, heads=None, ff=None):
        super().__init__()
        E = embd or cfg.embd
        self.sliding = sliding
        self.attn_norm = nn.Parameter(torch.ones(E))
        self.attn = Attention(cfg, sliding, q_only, E, heads)
        self.post_attn_norm = nn.Parameter(torch.ones(E))
        self.ffn_norm = nn.Parameter(torch.ones(E))
        self.ffn = FFN(E, ff or cfg.ff)
        self.post_ffw_norm = nn.Parameter(torch.ones(E))
        self.out_scale = nn.Parameter(torch.ones(1))

    def finish(self, x, o, eps, num):
        x = x + rms(o, self.post_attn_norm, eps)
        m = self.ffn(rms(x, self.ffn_norm, eps), num)
        x = x + rms(m, self.post_ffw_norm, eps)
        return x * self.out_scale


class ImageProjector(nn.Module):
    """gemma4uv (§8.4): LN1 over the raw CHW patch → patch_embd (+bias) → LN2 → + x/y tables → LN3 → rms_norm → proj."""

    def __init__(self, E: int, m: MediaConfig):
        super().__init__()
        P = 3 * m.patch * m.patch
        self.ln1 = nn.LayerNorm(P, eps=1e-5)
        self.patch_embd = nn.Linear(P, E)
        self.ln2 = nn.LayerNorm(E, eps=1e-5)
        self.pos = nn.Parameter(torch.randn(2, m.pos_rows, E) * 0.02)   # plane 0: x table, plane 1: y table
        self.ln3 = nn.LayerNorm(E, eps=1e-5)
        self.proj = nn.Linear(E, E, bias=False)

    def forward(self, patches, cols: int, num=PLAIN):
        """patches [N, 6912] of one image (k = py*cols + px) → rows [N, E]."""
        k = torch.arange(patches.shape[0])
        e = self.patch_embd(num.f16(self.ln1(patches)))
        e = self.ln2(e)
        e = e + self.pos[0, k % cols]
        e = e + self.pos[1, k // cols]
        e = rms(self.ln3(e), eps=1e-6)
        return self.proj(num.f16(e))


class AudioProjector(nn.Module):
    """gemma4ua (§9.2): per 640-sample frame, input_projection · rms_norm(frame, 1e-6)."""

    def __init__(self, E: int, m: MediaConfig):
        super().__init__()
        self.proj = nn.Linear(m.frame, E, bias=False)

    def forward(self, frames, num=PLAIN):
        return self.proj(num.f16(rms(frames, eps=1e-6)))


class Gemma4Nano(nn.Module):
    def __init__(self, cfg: TextConfig, media: MediaConfig):
        super().__init__()
        self.cfg = cfg
        self.media_cfg = media
        E = cfg.embd
        self.embed = nn.Parameter(torch.randn(cfg.vocab, E) / math.sqrt(E))
        self.blocks = nn.ModuleList([Block(cfg, cfg.sliding(i)) for i in range(cfg.layers)])
        self.output_norm = nn.Parameter(torch.ones(E))
        self.image = ImageProjector(E, media)
        self.audio = AudioProjector(E, media)
        for n, p in self.named_parameters():
            if p.dim() == 2 and n != 'embed' and 'pos' not in n:
                nn.init.normal_(p, std=1 / math.sqrt(p.shape[1]))
        self._rope = {}
        self.num = PLAIN

    def rope(self, T: int, sliding: bool):
        key = (T, sliding)
        if key not in self._rope:
            c = self.cfg
            if sliding:
                self._rope[key] = rope_angles(T, c.head_dim, c.rope_base_swa)
            else:
                self._rope[key] = rope_angles(T, c.head_dim_full, c.rope_base, rope_freqs(c))
        return self._rope[key]

    def masks(self, B: int, T: int, image_spans):
        """Full layers: causal. Sliding layers: causal within the window, image rows mutually visible (§8.6)."""
        i = torch.arange(T)
        causal = i[None, :] <= i[:, None]
        full = causal[None].expand(B, T, T)
        swa = (causal & (i[:, None] - i[None, :] < self.cfg.window))[None].repeat(B, 1, 1)
        for b, s, n in image_spans:
            swa[b, s:s + n, s:s + n] = True
        return full, swa

    def embed_inputs(self, ids, media):
        """ids [B, T]; media: list of (b, start, rows [n, E]) placed unscaled over the placeholder ids (§3.4, §8.5)."""
        x = F.embedding(ids, self.embed) * np.float32(math.sqrt(self.cfg.embd))
        if media:
            x = x.clone()
            for b, s, rows in media:
                x[b, s:s + rows.shape[0]] = rows
        return x

    def hidden(self, ids, media=(), image_spans=(), return_kv=False):
        """Post-final-norm hidden states [B, T, E] (and the K/V of the last sliding and the full layer)."""
        num = self.num
        B, T = ids.shape
        c = self.cfg
        x = self.embed_inputs(ids, media)
        full, swa = self.masks(B, T, image_spans)
        kv = {}
        for li, blk in enumerate(self.blocks):
            cos, sin = self.rope(T, blk.sliding)
            a = rms(x, blk.attn_norm, c.eps)
            q = blk.attn.project_q(a, cos, sin, num)
            k, v = blk.attn.project_kv(a, cos, sin, num)
            if return_kv:
                kv[li] = (k, v)
            o = blk.attn.attend(q, k, v, swa if blk.sliding else full, num)
            x = blk.finish(x, o, c.eps, num)
        h = rms(x, self.output_norm, c.eps)
        return (h, kv) if return_kv else h

    def logits(self, h):
        z = torch.matmul(self.num.f16(h), self.embed.t())
        cap = self.cfg.softcap
        return cap * torch.tanh(z * np.float32(1.0 / cap)) if cap > 0 else z

    def forward(self, ids, media=(), image_spans=()):
        return self.logits(self.hidden(ids, media, image_spans))


class Assistant(nn.Module):
    """gemma4-assistant (§10.4), mirroring hearth's gemma4-assistant.ts: y = pre_projection · [target_embd[t]·sqrt(E_t) ‖ h];
    Q-only layers over the target's last sliding / full layer's K/V (positions < pos, sliding: pos − p < window);
    z = RMS(y; output_norm); logits = own_embd · z (no soft-cap); h_next = post_projection · z."""

    def __init__(self, tcfg: TextConfig, a: AssistantConfig):
        super().__init__()
        self.tcfg = tcfg
        self.acfg = a
        A, T = a.embd, tcfg.embd
        self.embed = nn.Parameter(torch.randn(tcfg.vocab, A) / math.sqrt(A))
        self.pre = nn.Linear(2 * T, A, bias=False)
        self.post = nn.Linear(A, T, bias=False)
        self.blocks = nn.ModuleList([Block(tcfg, i < a.layers - 1, q_only=True, embd=A, heads=a.heads, ff=a.ff)
                                     for i in range(a.layers)])
        self.output_norm = nn.Parameter(torch.ones(A))
        for n, p in self.named_parameters():
            if p.dim() == 2 and n != 'embed':
                nn.init.normal_(p, std=1 / math.sqrt(p.shape[1]))
        self.num = PLAIN

    def step(self, target_embed, tok, h, kv_s, kv_f, pos_cos_sin, mask_s, mask_f):
        """tok [B, Tq], h [B, Tq, E_t]; kv_* = target (k, v) [B, kv, Tk, hd]; masks [B, Tq, Tk] → (logits, h_next)."""
        num = self.num
        c = self.tcfg
        x = F.embedding(tok, target_embed) * np.float32(math.sqrt(c.embd))
        y = self.pre(num.f16(torch.cat([x, h], dim=-1)))
        for blk in self.blocks:
            cos, sin = pos_cos_sin[blk.sliding]
            a = rms(y, blk.attn_norm, c.eps)
            q = blk.attn.project_q(a, cos, sin, num)
            k, v = kv_s if blk.sliding else kv_f
            o = blk.attn.attend(q, k, v, mask_s if blk.sliding else mask_f, num)
            y = blk.finish(y, o, c.eps, num)
        z = rms(y, self.output_norm, c.eps)
        z16 = num.f16(z)
        return torch.matmul(z16, self.embed.t()), self.post(z16)


def gguf_text_tensors(m: Gemma4Nano):
    """(GGUF name, tensor) of the text model, in the converter's order; torch [out, in] is ggml [in, out]."""
    out = [('token_embd.weight', m.embed), ('output_norm.weight', m.output_norm)]
    for i, b in enumerate(m.blocks):
        p = f'blk.{i}.'
        a = b.attn
        out += [(p + 'attn_norm.weight', b.attn_norm), (p + 'attn_q.weight', a.q.weight),
                (p + 'attn_k.weight', a.k.weight)]
        if a.v is not None:
            out.append((p + 'attn_v.weight', a.v.weight))
        out += [(p + 'attn_output.weight', a.o.weight), (p + 'attn_q_norm.weight', a.q_norm),
                (p + 'attn_k_norm.weight', a.k_norm), (p + 'post_attention_norm.weight', b.post_attn_norm),
                (p + 'ffn_norm.weight', b.ffn_norm), (p + 'ffn_gate.weight', b.ffn.gate.weight),
                (p + 'ffn_up.weight', b.ffn.up.weight), (p + 'ffn_down.weight', b.ffn.down.weight),
                (p + 'post_ffw_norm.weight', b.post_ffw_norm), (p + 'layer_output_scale.weight', b.out_scale)]
    return out


def gguf_mmproj_tensors(m: Gemma4Nano):
    v, a = m.image, m.audio
    return [('v.patch_norm.1.weight', v.ln1.weight), ('v.patch_norm.1.bias', v.ln1.bias),
            ('v.patch_embd.weight', v.patch_embd.weight), ('v.patch_embd.bias', v.patch_embd.bias),
            ('v.patch_norm.2.weight', v.ln2.weight), ('v.patch_norm.2.bias', v.ln2.bias),
            ('v.position_embd.weight', v.pos),
            ('v.patch_norm.3.weight', v.ln3.weight), ('v.patch_norm.3.bias', v.ln3.bias),
            ('mm.input_projection.weight', v.proj.weight),
            ('mm.a.input_projection.weight', a.proj.weight)]


def gguf_assistant_tensors(m: Assistant):
    out = [('token_embd.weight', m.embed), ('output_norm.weight', m.output_norm),
           ('nextn.pre_projection.weight', m.pre.weight), ('nextn.post_projection.weight', m.post.weight)]
    for i, b in enumerate(m.blocks):
        p = f'blk.{i}.'
        out += [(p + 'attn_norm.weight', b.attn_norm), (p + 'attn_q.weight', b.attn.q.weight),
                (p + 'attn_q_norm.weight', b.attn.q_norm), (p + 'attn_output.weight', b.attn.o.weight),
                (p + 'post_attention_norm.weight', b.post_attn_norm), (p + 'ffn_norm.weight', b.ffn_norm),
                (p + 'ffn_gate.weight', b.ffn.gate.weight), (p + 'ffn_up.weight', b.ffn.up.weight),
                (p + 'ffn_down.weight', b.ffn.down.weight), (p + 'post_ffw_norm.weight', b.post_ffw_norm),
                (p + 'layer_output_scale.weight', b.out_scale)]
    return out


def f16_tensor_names():
    """Which GGUF tensors the exporter stores as F16 (file type F16): 2-D weights, patch_embd included (§8.2)."""
    def is_f16(name: str, t) -> bool:
        return t.dim() == 2 and name != 'v.position_embd.weight'
    return is_f16


def round_like_gguf(pairs):
    """Round the tensors the exporter stores as F16 in place (round-to-nearest-even, as f32ToF16 / torch .half())."""
    is_f16 = f16_tensor_names()
    with torch.no_grad():
        for name, t in pairs:
            if is_f16(name, t):
                t.copy_(t.half().float())


def config_dict(m: Gemma4Nano):
    return {'text': asdict(m.cfg), 'media': asdict(m.media_cfg)}
