/**
 * The page's calls to the server: the same OpenAI routes every client uses, plus /metrics and /health. The API key,
 * when the server wants one, is asked once and kept in this tab's session storage.
 */

/** An error the server answered in OpenAI's shape, or one the page met on the way (network, stream). */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    /** HTTP status; 0 when the request never got an answer. */
    readonly status: number,
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

const keyName = 'hearth.apiKey';

function storedKey(): string | null {
  try {
    return sessionStorage.getItem(keyName);
  } catch {
    return null; // storage disabled: the key is asked again after a reload
  }
}

function storeKey(key: string): void {
  try {
    sessionStorage.setItem(keyName, key);
  } catch {}
}

let sessionKey: string | null = storedKey();

/** Asks the user for a key; null when they decline. Set by the page (a dialog). */
export type KeyPrompt = (problem: string | null) => Promise<string | null>;
let askKey: KeyPrompt = async () => null;
export function onKeyNeeded(prompt: KeyPrompt): void {
  askKey = prompt;
}

/** An error body in OpenAI's shape → ApiError; anything else keeps its status and a short excerpt. */
export async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const { error } = JSON.parse(text) as { error: { message: string; code?: string | null; param?: string | null } };
    if (error && typeof error.message === 'string') return new ApiError(error.message, res.status, error.code ?? null, error.param ?? null);
  } catch {}
  return new ApiError(text.slice(0, 300) || res.statusText || 'no answer', res.status);
}

/**
 * fetch() against this server with the API key. A 401 asks for a key (saying why when one was refused) and
 * retries; declining, or `ask: false` (background polls must not pop a dialog), leaves the 401 to the caller.
 */
export async function apiFetch(path: string, init: RequestInit = {}, ask = true): Promise<Response> {
  for (;;) {
    const headers = new Headers(init.headers);
    if (sessionKey) headers.set('authorization', `Bearer ${sessionKey}`);
    let res: Response;
    try {
      res = await fetch(path, { ...init, headers });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new ApiError(`The server did not answer (${(err as Error).message}).`, 0);
    }
    if (res.status !== 401 || !ask) return res;
    const refused = await errorOf(res);
    const key = await askKey(sessionKey ? refused.message : null);
    if (key === null) throw refused;
    sessionKey = key;
    storeKey(key);
  }
}

export interface ModelCard {
  id: string;
  hearth?: { architecture?: string; parameters?: number; context_per_slot?: number; slots?: number };
}

/** GET /v1/models; a model still loading is a 503 with Retry-After, thrown as ApiError(503). */
export async function listModels(): Promise<ModelCard[]> {
  const res = await apiFetch('/v1/models');
  if (!res.ok) throw await errorOf(res);
  return ((await res.json()) as { data: ModelCard[] }).data;
}

export interface LoadState {
  status: string;
  fraction: number;
}

/** GET /health: `ready`, or `loading` with the fraction of the model's bytes read. */
export async function health(): Promise<LoadState> {
  const res = await fetch('/health');
  const body = (await res.json().catch(() => ({}))) as { status?: string; progress?: { fraction?: number } };
  return { status: body.status ?? `http ${res.status}`, fraction: body.progress?.fraction ?? 0 };
}

/** The Prometheus text of /metrics → name → value (unlabelled samples only; that is all the page reads). */
export async function metrics(): Promise<Map<string, number>> {
  const res = await apiFetch('/metrics', {}, false);
  if (!res.ok) throw await errorOf(res);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-z_:][a-z0-9_:]*) (\S+)$/i.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}
