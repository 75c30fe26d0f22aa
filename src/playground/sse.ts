/**
 * Reading an OpenAI-style event stream: `data: <json>` events separated by blank lines, ended by `data: [DONE]`.
 * No DOM here, so tests run it under Node against the server's real bytes.
 */

/** The JSON payload of each event, in order, until `[DONE]` or the end of the body. */
export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end: RegExpExecArray | null;
      while ((end = /\r?\n\r?\n/.exec(buffer))) {
        const event = buffer.slice(0, end.index);
        buffer = buffer.slice(end.index + end[0].length);
        const data = dataOf(event);
        if (data === null) continue;
        if (data === '[DONE]') return;
        yield JSON.parse(data);
      }
    }
    const data = dataOf(buffer + decoder.decode());
    if (data !== null && data !== '[DONE]') yield JSON.parse(data);
  } finally {
    // stops the download when the consumer leaves early (stop button, error)
    reader.cancel().catch(() => {});
  }
}

/** An event's `data:` lines joined (the SSE rule), or null for comments and events without data. */
function dataOf(event: string): string | null {
  const lines = event.split(/\r?\n/).filter((l) => l.startsWith('data:'));
  if (lines.length === 0) return null;
  return lines.map((l) => l.slice(l.startsWith('data: ') ? 6 : 5)).join('\n');
}
