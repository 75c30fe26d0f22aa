/**
 * Example: a worker that uses hearth as a step of its own pipeline, through a service binding with RPC (no HTTP
 * between the two, no port, no API key). Run it with scripts/workerd-pipeline.capnp.
 *
 *   POST /summarize {"text": "..."}   one pipeline step: a chat call, the answer returned as {summary}
 *   POST /chat, /complete, /tokenize   the body goes to env.HEARTH.chat / complete / tokenize as it is; a streaming
 *                                      request comes back as hearth's own SSE stream (a ReadableStream over RPC)
 *   GET /models                        env.HEARTH.models()
 */
export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    try {
      if (request.method === 'GET' && pathname === '/models') return Response.json(await env.HEARTH.models());
      if (request.method !== 'POST') return new Response('not found', { status: 404 });
      const body = await request.json();
      if (pathname === '/summarize') {
        const completion = await env.HEARTH.chat({
          messages: [
            { role: 'system', content: 'Summarize the text in one sentence.' },
            { role: 'user', content: String(body.text ?? '') },
          ],
          max_tokens: 64,
          temperature: 0,
        });
        return Response.json({ summary: completion.choices[0].message.content });
      }
      const method = { '/chat': 'chat', '/complete': 'complete', '/tokenize': 'tokenize' }[pathname];
      if (!method) return new Response('not found', { status: 404 });
      const result = await env.HEARTH[method](body);
      if (result instanceof ReadableStream) {
        return new Response(result, { headers: { 'content-type': 'text/event-stream' } });
      }
      return Response.json(result);
    } catch (err) {
      // hearth's errors arrive as "HearthRpcError: STATUS code: message"
      const status = Number(/\b(\d{3}) \w+: /.exec(err.message)?.[1]) || 500;
      return Response.json({ error: err.message }, { status });
    }
  },
};
