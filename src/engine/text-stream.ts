/**
 * Generated tokens → text, as it streams: bytes are decoded as UTF-8 only once a character is complete, and text
 * that might be the start of a stop string is held back until it is known not to be one.
 */
export class TextStream {
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  private pending = '';
  /** Everything emitted so far (for callers that want the whole text). */
  text = '';
  stopped = false;

  constructor(private readonly stops: readonly string[] = []) {}

  /** Feed one token's bytes; returns the text that is now safe to emit. */
  push(bytes: Uint8Array): string {
    if (this.stopped) return '';
    this.pending += this.decoder.decode(bytes, { stream: true });
    return this.release(false);
  }

  /** End of generation: flush what is held back (an unfinished UTF-8 sequence becomes U+FFFD, as a decoder does). */
  finish(): string {
    if (this.stopped) return '';
    this.pending += this.decoder.decode();
    return this.release(true);
  }

  private release(final: boolean): string {
    let cut = -1;
    for (const stop of this.stops) {
      const at = this.pending.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.stopped = true;
      return this.emit(this.pending.slice(0, cut));
    }
    if (final) return this.emit(this.pending);
    // hold back the longest tail that is a prefix of some stop string
    let hold = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, this.pending.length); n > hold; n--) {
        if (this.pending.endsWith(stop.slice(0, n))) {
          hold = n;
          break;
        }
      }
    }
    return this.emit(this.pending.slice(0, this.pending.length - hold), hold);
  }

  private emit(out: string, keep = 0): string {
    this.pending = keep > 0 ? this.pending.slice(this.pending.length - keep) : '';
    this.text += out;
    return out;
  }
}
