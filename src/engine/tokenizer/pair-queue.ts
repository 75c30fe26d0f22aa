/**
 * The work queue of candidate merges: a binary min-heap ordered by (priority, left symbol index), which is the order
 * llama.cpp's std::priority_queue comparators give (best merge first, leftmost among equals). Each entry also carries
 * the byte size the merged pair had when it was queued, so stale entries can be recognised when popped.
 */
export class PairQueue {
  private priority: Float64Array;
  private left: Int32Array;
  private size: Int32Array;
  private n = 0;

  constructor(capacity = 64) {
    this.priority = new Float64Array(capacity);
    this.left = new Int32Array(capacity);
    this.size = new Int32Array(capacity);
  }

  get length(): number {
    return this.n;
  }

  clear(): void {
    this.n = 0;
  }

  private before(i: number, j: number): boolean {
    const a = this.priority[i];
    const b = this.priority[j];
    return a < b || (a === b && this.left[i] < this.left[j]);
  }

  private swap(i: number, j: number): void {
    const p = this.priority[i];
    this.priority[i] = this.priority[j];
    this.priority[j] = p;
    const l = this.left[i];
    this.left[i] = this.left[j];
    this.left[j] = l;
    const s = this.size[i];
    this.size[i] = this.size[j];
    this.size[j] = s;
  }

  push(priority: number, left: number, size: number): void {
    if (this.n === this.priority.length) {
      const grow = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.priority = grow(this.priority, (k) => new Float64Array(k));
      this.left = grow(this.left, (k) => new Int32Array(k));
      this.size = grow(this.size, (k) => new Int32Array(k));
    }
    let i = this.n++;
    this.priority[i] = priority;
    this.left[i] = left;
    this.size[i] = size;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes the best entry; read it first with topLeft/topSize. */
  pop(): void {
    const last = --this.n;
    if (last === 0) return;
    this.swap(0, last);
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < last && this.before(l, best)) best = l;
      if (r < last && this.before(r, best)) best = r;
      if (best === i) break;
      this.swap(i, best);
      i = best;
    }
  }

  topLeft(): number {
    return this.left[0];
  }

  topSize(): number {
    return this.size[0];
  }
}
