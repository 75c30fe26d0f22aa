/**
 * Request bodies are read with a hard byte limit (hosts impose none: workerd accepted a 5 GiB POST), then parsed as
 * JSON (or multipart form data). A declared Content-Length over the limit is refused before reading; a chunked body
 * is cut off as soon as it passes the limit.
 */
import { ApiError, invalidRequest } from './errors.ts';

export async function readJsonBody(request: Request, limitBytes: number): Promise<unknown> {
  const bytes = await readBodyBytes(request, limitBytes, 'a JSON object');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalidRequest('The request body is not valid UTF-8.', null, 'invalid_json');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalidRequest(
      `We could not parse the JSON body of your request (${err instanceof Error ? err.message : 'invalid JSON'}).`,
      null,
      'invalid_json',
    );
  }
}

/** A multipart/form-data body, read under the same limit, parsed by the host's own FormData. */
export async function readFormBody(request: Request, limitBytes: number): Promise<FormData> {
  const type = request.headers.get('content-type') ?? '';
  if (!/^multipart\/form-data\s*;/i.test(type)) {
    throw invalidRequest(`Expected a multipart/form-data body, got content-type '${type || 'none'}'.`, null, 'invalid_content_type');
  }
  const bytes = await readBodyBytes(request, limitBytes, 'multipart form data');
  try {
    return await new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': type } }).formData();
  } catch (err) {
    throw invalidRequest(
      `We could not parse the multipart body of your request (${err instanceof Error ? err.message : 'malformed'}).`,
      null,
      'invalid_multipart',
    );
  }
}

async function readBodyBytes(request: Request, limitBytes: number, expected: string): Promise<Uint8Array> {
  const tooLarge = () =>
    new ApiError(413, `Request body too large: the limit is ${limitBytes} bytes.`, 'request_too_large');
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limitBytes) throw tooLarge();
  if (!request.body) throw invalidRequest(`The request body is empty; expected ${expected}.`);
  const bytes = await readLimited(request.body, limitBytes, tooLarge);
  if (bytes.byteLength === 0) throw invalidRequest(`The request body is empty; expected ${expected}.`);
  return bytes;
}

/** A whole stream into one array, cancelled and refused (`tooLarge()`) as soon as it passes `limitBytes`. */
export async function readLimited(stream: ReadableStream<Uint8Array>, limitBytes: number, tooLarge: () => Error): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limitBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return bytes;
}
