/**
 * Server-sent events in OpenAI's framing: `data: <json>\n\n` per chunk, `data: [DONE]\n\n` at the end. The stream
 * is pulled, so a slow client slows its generation instead of buffering it. When the client goes away the host
 * cancels the stream and `onCancel` frees the generation's slot at once.
 */
import { toApiError } from './errors.ts';

const encoder = new TextEncoder();

/**
 * Let the host's event loop turn. workerd (and Deno) write response chunks to the socket only when the loop turns,
 * so without this a burst of tokens computed back to back would reach the client together (runtimes.md Q8).
 * `scheduler.wait` is workerd's; setImmediate avoids Node's 1 ms floor on setTimeout.
 */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as {
    scheduler?: { wait?: (ms: number) => Promise<void> };
    setImmediate?: (fn: () => void) => unknown;
  };
  if (typeof g.scheduler?.wait === 'function') return g.scheduler.wait(0);
  if (typeof g.setImmediate === 'function') return new Promise((resolve) => g.setImmediate!(resolve));
  return new Promise((resolve) => setTimeout(resolve, 0));
}

export function sseResponse(chunks: AsyncIterator<unknown>, onCancel: () => void): Response {
  let finished = false;
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (finished) return;
        try {
          const next = await chunks.next();
          if (next.done) {
            finished = true;
            controller.enqueue(encoder.encode('data: [DONE]\n\n'));
            controller.close();
            return;
          }
          controller.enqueue(encoder.encode(`data: ${JSON.stringify(next.value)}\n\n`));
        } catch (err) {
          // headers are gone already: the error travels as an event, as OpenAI's API does mid-stream
          finished = true;
          controller.enqueue(encoder.encode(`data: ${JSON.stringify(toApiError(err).body())}\n\n`));
          controller.close();
          onCancel();
          return;
        }
        await yieldToEventLoop();
      },
      cancel() {
        finished = true;
        onCancel();
        void chunks.return?.();
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, {
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    },
  });
}
