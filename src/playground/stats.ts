/**
 * The numbers under each reply: the server's prompt and decode speed (`timings`), the tokens counted in `usage`,
 * the time to the first token as the page saw it, a sparkline of how the text arrived, and — when the reply was
 * speculated — drafted vs accepted tokens as a bar.
 */
import type { ReplyEnd, Usage } from './chat.ts';
import { h, svg } from './dom.ts';

const sparkBuckets = 24;
const sparkWidth = 96;
const sparkHeight = 18;

function rate(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '–';
  return n >= 10000 ? `${(n / 1000).toFixed(1)}k` : n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

function stat(label: string, ...parts: (Node | string)[]): HTMLElement {
  return h('span', { class: 'stat' }, `${label} `, ...parts);
}

/** Arrivals per time bucket, tallest bar = the busiest bucket. */
export function sparkline(arrivals: number[]): SVGSVGElement {
  const chart = svg('svg', {
    class: 'spark',
    width: sparkWidth,
    height: sparkHeight,
    viewBox: `0 0 ${sparkWidth} ${sparkHeight}`,
    role: 'img',
  });
  if (arrivals.length < 2) return chart;
  const t0 = arrivals[0];
  const span = Math.max(1, arrivals[arrivals.length - 1] - t0);
  const counts = new Array<number>(sparkBuckets).fill(0);
  for (const t of arrivals) counts[Math.min(sparkBuckets - 1, Math.floor(((t - t0) / span) * sparkBuckets))]++;
  const peak = Math.max(...counts);
  const w = sparkWidth / sparkBuckets;
  counts.forEach((n, i) => {
    const bar = Math.max(1, (n / peak) * sparkHeight);
    chart.append(svg('rect', { x: (i * w).toFixed(2), y: (sparkHeight - bar).toFixed(2), width: (w - 1).toFixed(2), height: bar.toFixed(2) }));
  });
  const peakRate = (peak / (span / sparkBuckets)) * 1000;
  chart.setAttribute('aria-label', `Text arrival over ${(span / 1000).toFixed(1)} s, peak ${rate(peakRate)} pieces/s`);
  return chart;
}

/** Drafted tokens as the full bar, the accepted part filled. */
export function speculationBar(spec: NonNullable<Usage['speculative']>): HTMLElement {
  const width = 80;
  const accepted = spec.drafted_tokens > 0 ? (spec.accepted_tokens / spec.drafted_tokens) * width : 0;
  const bar = svg(
    'svg',
    {
      class: 'spec-bar',
      width,
      height: 8,
      viewBox: `0 0 ${width} 8`,
      role: 'img',
      'aria-label': `${spec.accepted_tokens} of ${spec.drafted_tokens} drafted tokens accepted`,
    },
    svg('rect', { class: 'drafted', x: 0, y: 0, width, height: 8, rx: 2 }),
    svg('rect', { class: 'accepted', x: 0, y: 0, width: accepted.toFixed(2), height: 8, rx: 2 }),
  );
  return h(
    'span',
    { class: 'stat speculation', 'data-drafted': spec.drafted_tokens, 'data-accepted': spec.accepted_tokens },
    `${spec.type} `,
    bar,
    h('b', {}, `${spec.accepted_tokens}/${spec.drafted_tokens}`),
    ` accepted · ${spec.tokens_per_step.toFixed(2)} tok/step`,
  );
}

/** Follows one reply as it streams, then shows the server's numbers. */
export class ReplyMeter {
  private readonly started = performance.now();
  private readonly arrivals: number[] = [];
  private frame = 0;

  constructor(private readonly box: HTMLElement) {}

  /** A piece of text arrived. */
  arrived(): void {
    this.arrivals.push(performance.now());
    this.frame ||= requestAnimationFrame(() => {
      this.frame = 0;
      this.drawLive();
    });
  }

  private firstToken(): HTMLElement | null {
    if (this.arrivals.length === 0) return null;
    return stat('first token', h('b', {}, `${Math.round(this.arrivals[0] - this.started)}`), ' ms');
  }

  private drawLive(): void {
    const seconds = (performance.now() - this.arrivals[0]) / 1000;
    this.box.replaceChildren(
      ...[
        this.firstToken(),
        stat('streaming', h('b', {}, String(this.arrivals.length)), ` pieces · ${rate(this.arrivals.length / seconds)}/s`),
        sparkline(this.arrivals),
      ].filter((n): n is HTMLElement | SVGSVGElement => n !== null),
    );
  }

  /** The reply is complete (or stopped: `end` null); show what the server measured. */
  finish(end: ReplyEnd | null): void {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    const parts: (Element | null)[] = [];
    const t = end?.timings;
    const u = end?.usage;
    if (t) {
      parts.push(stat('prompt', h('b', { class: 'prompt-n' }, String(t.prompt_n)), ' tok · ', h('b', { class: 'prompt-rate' }, rate(t.prompt_per_second)), ' tok/s'));
      parts.push(stat('reply', h('b', { class: 'reply-n' }, String(t.predicted_n)), ' tok · ', h('b', { class: 'decode-rate' }, rate(t.predicted_per_second)), ' tok/s'));
    } else if (u) {
      parts.push(stat('prompt', h('b', { class: 'prompt-n' }, String(u.prompt_tokens)), ' tok'));
      parts.push(stat('reply', h('b', { class: 'reply-n' }, String(u.completion_tokens)), ' tok'));
    } else {
      parts.push(stat('received', h('b', { class: 'reply-n' }, String(this.arrivals.length)), ' pieces'));
    }
    parts.push(this.firstToken(), sparkline(this.arrivals));
    if (u?.speculative) parts.push(speculationBar(u.speculative));
    this.box.replaceChildren(...parts.filter((n): n is Element => n !== null));
  }
}
