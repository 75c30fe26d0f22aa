#!/usr/bin/python3
"""Writes the small media fixtures of test/fixtures/media/ (run by scripts/media-fixtures.sh; needs python3-pil).

PNG: every colour type × bit depth × interlace, written by the tiny encoder below (so every filter type and Adam7
pass layout is exercised on purpose), plus tRNS variants. JPEG: PIL baseline / progressive / grey / 4:2:0 and
the eight EXIF orientations. WAV: every sample format we read, mono / stereo / 3-channel extensible, 16 kHz and
other rates. Pixel and sample values come from fixed formulas, so the files are reproducible.
"""
import io
import math
import os
import shutil
import struct
import subprocess
import sys
import zlib

from PIL import Image

OUT = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/media'
os.makedirs(OUT, exist_ok=True)

CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)


def sample(x, y, c, depth):
    v = ((x * 37 + y * 91 + c * 53 + ((x * y) ^ (3 * x + c)) * 11) * 2654435761 >> 9) & 0xffff
    return v >> (16 - depth)


def pack_row(values, depth):
    if depth == 8:
        return bytes(values)
    if depth == 16:
        return b''.join(struct.pack('>H', v) for v in values)
    out = bytearray()
    acc, bits = 0, 0
    for v in values:
        acc = (acc << depth) | v
        bits += depth
        if bits == 8:
            out.append(acc)
            acc, bits = 0, 0
    if bits:
        out.append(acc << (8 - bits))
    return bytes(out)


def filter_row(kind, row, prev, bpp):
    out = bytearray(len(row))
    for i in range(len(row)):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if kind == 0:
            p = 0
        elif kind == 1:
            p = a
        elif kind == 2:
            p = b
        elif kind == 3:
            p = (a + b) >> 1
        else:
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        out[i] = (row[i] - p) & 255
    return bytes(out)


def write_png(name, w, h, colour, depth, interlace, palette=None, trns=None):
    ch = CHANNELS[colour]
    bpp = max(1, ch * depth // 8)
    passes = [(0, 0, 1, 1)] if not interlace else ADAM7
    raw = bytearray()
    row_no = 0
    for (x0, y0, dx, dy) in passes:
        pw = (w - x0 + dx - 1) // dx
        ph = (h - y0 + dy - 1) // dy
        if pw <= 0 or ph <= 0:
            continue
        prev = bytes(len(pack_row([0] * (pw * ch), depth)))
        for j in range(ph):
            y = y0 + j * dy
            vals = []
            for i in range(pw):
                x = x0 + i * dx
                for c in range(ch):
                    v = sample(x, y, c, depth)
                    if colour == 3:
                        v %= len(palette) // 3 if palette else 1
                    vals.append(v)
            row = pack_row(vals, depth)
            kind = row_no % 5
            row_no += 1
            raw += bytes([kind]) + filter_row(kind, row, prev, bpp)
            prev = row
    png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, depth, colour, 0, 0, interlace))
    if palette:
        png += chunk(b'PLTE', bytes(palette))
    if trns is not None:
        png += chunk(b'tRNS', trns)
    z = zlib.compress(bytes(raw), 9)
    # Split the data over two IDAT chunks, as encoders do for large images.
    png += chunk(b'IDAT', z[: len(z) // 2]) + chunk(b'IDAT', z[len(z) // 2:])
    png += chunk(b'tEXt', b'Comment\x00hearth fixture') + chunk(b'IEND', b'')
    with open(os.path.join(OUT, name), 'wb') as f:
        f.write(png)


def pngs():
    depths = {0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]}
    for colour, ds in depths.items():
        for depth in ds:
            for interlace in (0, 1):
                palette = None
                if colour == 3:
                    n = min(1 << depth, 200)
                    palette = [(i * 67 + k * 101) & 255 for i in range(n) for k in range(3)]
                write_png(f'png-c{colour}-d{depth}-i{interlace}.png', 13, 11, colour, depth, interlace, palette)
    pal = [(i * 29 + k * 71) & 255 for i in range(16) for k in range(3)]
    write_png('png-c3-d4-trns.png', 9, 10, 3, 4, 0, pal, bytes([0, 128, 255, 7]))
    write_png('png-c0-d8-trns.png', 9, 10, 0, 8, 0, None, struct.pack('>H', 37))
    write_png('png-c2-d16-trns.png', 9, 10, 2, 16, 1, None, struct.pack('>HHH', 1, 2, 3))


def pattern(w, h):
    img = Image.new('RGB', (w, h))
    px = img.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = ((x * 9 + y * 2) & 255, (y * 11 + 40) & 255, ((x ^ y) * 7) & 255)
    return img


def exif_with_orientation(o):
    exif = Image.Exif()
    exif[0x0112] = o
    return exif.tobytes()


def jpegs():
    base = pattern(40, 24)
    base.save(os.path.join(OUT, 'jpeg-baseline.jpg'), quality=90, subsampling=0)
    base.save(os.path.join(OUT, 'jpeg-420.jpg'), quality=85, subsampling=2)
    base.save(os.path.join(OUT, 'jpeg-progressive.jpg'), quality=90, progressive=True, subsampling=0)
    base.convert('L').save(os.path.join(OUT, 'jpeg-grey.jpg'), quality=90)
    base.save(os.path.join(OUT, 'jpeg-422-optimized.jpg'), quality=80, subsampling=1, optimize=True)
    odd = pattern(37, 29)
    odd.save(os.path.join(OUT, 'jpeg-odd-420-progressive.jpg'), quality=75, subsampling=2, progressive=True)
    odd.convert('L').save(os.path.join(OUT, 'jpeg-odd-grey-progressive.jpg'), quality=75, progressive=True)
    odd.convert('CMYK').save(os.path.join(OUT, 'jpeg-odd-cmyk.jpg'), quality=90)
    # Restart markers: PIL 9 cannot write them; cjpeg (libjpeg-turbo-progs) can, when installed.
    cjpeg = shutil.which('cjpeg')
    if cjpeg:
        ppm = os.path.join(OUT, 'tmp.ppm')
        odd.save(ppm)
        for name, extra in (('jpeg-restart.jpg', []), ('jpeg-restart-progressive.jpg', ['-progressive'])):
            subprocess.run([cjpeg, '-quality', '85', '-restart', '1B', '-sample', '2x2', *extra, '-outfile',
                            os.path.join(OUT, name), ppm], check=True)
        os.remove(ppm)
    # Orientation fixtures: a 32×16 image with a red top-left block, stored so that honouring the tag shows it
    # upright (PIL's exif_transpose is the inverse of what we store).
    upright = Image.new('RGB', (32, 16), (0, 0, 200))
    for y in range(8):
        for x in range(8):
            upright.putpixel((x, y), (250, 0, 0))
    for y in range(8, 16):
        for x in range(24, 32):
            upright.putpixel((x, y), (0, 250, 0))
    inverse = {
        1: None,
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_90,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_270,
    }
    for o, t in inverse.items():
        stored = upright if t is None else upright.transpose(t)
        stored.save(os.path.join(OUT, f'jpeg-exif-{o}.jpg'), quality=95, subsampling=0, exif=exif_with_orientation(o))


def wav(name, rate, channels, fmt, frames, extensible=False):
    """fmt: u8, s16, s24, s32, f32, f64."""
    tag = 3 if fmt in ('f32', 'f64') else 1
    size = {'u8': 1, 's16': 2, 's24': 3, 's32': 4, 'f32': 4, 'f64': 8}[fmt]
    data = bytearray()
    for i in range(frames):
        for c in range(channels):
            t = i / rate
            v = 0.6 * math.sin(2 * math.pi * (440 + 110 * c) * t) + 0.3 * math.sin(2 * math.pi * 3100 * t + c)
            v = max(-1.0, min(1.0, v + (((i * 7919 + c * 31) % 97) - 48) / 2000))
            if fmt == 'u8':
                data += struct.pack('<B', max(0, min(255, round(v * 127.5 + 127.5))))
            elif fmt == 's16':
                data += struct.pack('<h', max(-32768, min(32767, round(v * 32767))))
            elif fmt == 's24':
                q = max(-8388608, min(8388607, round(v * 8388607)))
                data += struct.pack('<i', q)[:3]
            elif fmt == 's32':
                data += struct.pack('<i', max(-2147483648, min(2147483647, round(v * 2147483647))))
            elif fmt == 'f32':
                data += struct.pack('<f', v)
            else:
                data += struct.pack('<d', v)
    block = size * channels
    if extensible:
        sub = struct.pack('<H', tag) + b'\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71'
        fmt_chunk = struct.pack('<HHIIHHHHI', 0xfffe, channels, rate, rate * block, block, size * 8, 22, size * 8,
                                (1 << channels) - 1) + sub
    else:
        fmt_chunk = struct.pack('<HHIIHH', tag, channels, rate, rate * block, block, size * 8)
    body = b'WAVE' + b'fmt ' + struct.pack('<I', len(fmt_chunk)) + fmt_chunk
    body += b'LIST' + struct.pack('<I', 5) + b'INFOx' + b'\x00'  # odd-sized chunk, padded
    body += b'data' + struct.pack('<I', len(data)) + bytes(data)
    with open(os.path.join(OUT, name), 'wb') as f:
        f.write(b'RIFF' + struct.pack('<I', len(body)) + body)


def wavs():
    wav('wav-16k-mono-s16.wav', 16000, 1, 's16', 3000)
    wav('wav-16k-stereo-s16.wav', 16000, 2, 's16', 1500)
    wav('wav-16k-mono-u8.wav', 16000, 1, 'u8', 1500)
    wav('wav-16k-mono-s24.wav', 16000, 1, 's24', 1500)
    wav('wav-16k-stereo-s32.wav', 16000, 2, 's32', 1000)
    wav('wav-16k-mono-f32.wav', 16000, 1, 'f32', 1000)
    wav('wav-16k-stereo-f64.wav', 16000, 2, 'f64', 700)
    wav('wav-16k-3ch-s16-ext.wav', 16000, 3, 's16', 1000, extensible=True)
    wav('wav-16k-stereo-f32-ext.wav', 16000, 2, 'f32', 800, extensible=True)
    wav('wav-44k1-mono-s16.wav', 44100, 1, 's16', 4410)
    wav('wav-48k-stereo-s24.wav', 48000, 2, 's24', 2400)
    wav('wav-8k-mono-f32.wav', 8000, 1, 'f32', 800)
    wav('wav-22k05-stereo-u8.wav', 22050, 2, 'u8', 2205)


pngs()
jpegs()
wavs()
