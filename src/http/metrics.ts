/**
 * GET /metrics in Prometheus' text format: HTTP requests by route and status (counted here), and the engine's own
 * counters and gauges (tokens, slots, queue depth, decode speed).
 */
import type { EngineStats } from '../engine/api.ts';
import type { ModelState } from './served-model.ts';

export class RequestCounter {
  private readonly counts = new Map<string, number>();

  /** `route` is the matched route pattern (never the raw path: clients must not grow the label set). */
  count(method: string, route: string, status: number): void {
    const key = `${method}\u0000${route}\u0000${status}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  entries(): { method: string; route: string; status: string; n: number }[] {
    return [...this.counts].map(([key, n]) => {
      const [method, route, status] = key.split('\u0000');
      return { method, route, status, n };
    });
  }
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function renderMetrics(requests: RequestCounter, state: ModelState, stats: EngineStats | null): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${Number.isFinite(value) ? value : 0}`);
  };

  metric(
    'hearth_http_requests_total',
    'counter',
    'HTTP requests answered, by method, route and status.',
    requests
      .entries()
      .map(({ method, route, status, n }) => [
        `{method="${escapeLabel(method)}",route="${escapeLabel(route)}",status="${status}"}`,
        n,
      ]),
  );
  const progress =
    state.status === 'ready'
      ? 1
      : state.status === 'loading' && state.progress && state.progress.totalBytes > 0
        ? state.progress.loadedBytes / state.progress.totalBytes
        : 0;
  metric('hearth_model_ready', 'gauge', '1 once the model is loaded.', [['', state.status === 'ready' ? 1 : 0]]);
  metric('hearth_model_load_progress', 'gauge', 'Fraction of the model bytes loaded.', [['', progress]]);
  if (stats) {
    metric('hearth_generations_total', 'counter', 'Generations accepted by the engine.', [['', stats.requestsTotal]]);
    metric('hearth_prompt_tokens_total', 'counter', 'Prompt tokens processed.', [['', stats.promptTokensTotal]]);
    metric('hearth_completion_tokens_total', 'counter', 'Tokens generated.', [['', stats.completionTokensTotal]]);
    metric('hearth_draft_tokens_total', 'counter', 'Tokens proposed by speculative drafters.', [['', stats.draftedTokensTotal]]);
    metric('hearth_draft_tokens_accepted_total', 'counter', 'Drafted tokens the target kept.', [['', stats.acceptedTokensTotal]]);
    metric('hearth_draft_acceptance_rate', 'gauge', 'Accepted ÷ drafted tokens since start.', [
      ['', stats.draftedTokensTotal > 0 ? stats.acceptedTokensTotal / stats.draftedTokensTotal : 0],
    ]);
    metric('hearth_decode_steps_total', 'counter', 'Target forward passes while decoding, per generation.', [['', stats.decodeStepsTotal]]);
    metric('hearth_tokens_per_step', 'gauge', 'Completion tokens per target decode step (> 1 when speculation pays).', [
      ['', stats.decodeStepsTotal > 0 ? stats.completionTokensTotal / stats.decodeStepsTotal : 0],
    ]);
    metric('hearth_slots', 'gauge', 'Parallel generation slots.', [['', stats.slots]]);
    metric('hearth_slots_active', 'gauge', 'Slots generating now.', [['', stats.active]]);
    metric('hearth_queue_depth', 'gauge', 'Requests waiting for a slot.', [['', stats.queued]]);
    metric('hearth_queue_limit', 'gauge', 'Requests allowed to wait before 429.', [['', stats.queueLimit]]);
    metric('hearth_context_per_slot', 'gauge', 'Context tokens per slot.', [['', stats.contextPerSlot]]);
    metric('hearth_decode_tokens_per_second', 'gauge', 'Decode speed over the recent window.', [
      ['', stats.decodeTokS],
    ]);
  }
  return lines.join('\n') + '\n';
}
