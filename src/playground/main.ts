/**
 * The playground page: chat with the served model through the OpenAI route every client uses, with images and
 * audio as content parts, and the engine's numbers under each reply. Plain DOM, no framework: the page is one
 * conversation, a composer and a settings panel.
 */
import { ApiError, health, listModels, metrics, onKeyNeeded } from './api.ts';
import { streamChat, type ChatMessage, type ChatRequest, type ReplyEnd } from './chat.ts';
import { byId, h } from './dom.ts';
import { audioAttachment, imageAttachment, MediaError, startRecording, type Attachment, type ContentPart, type Recording } from './media.ts';
import { ReplyMeter } from './stats.ts';

const el = {
  model: byId('model', HTMLSelectElement),
  engine: byId('engine', HTMLElement),
  settingsToggle: byId('settings-toggle', HTMLButtonElement),
  settings: byId('settings', HTMLElement),
  settingsForm: byId('settings-form', HTMLFormElement),
  system: byId('system', HTMLTextAreaElement),
  temperature: byId('temperature', HTMLInputElement),
  topP: byId('top_p', HTMLInputElement),
  maxTokens: byId('max_tokens', HTMLInputElement),
  speculative: byId('speculative', HTMLSelectElement),
  newChat: byId('new-chat', HTMLButtonElement),
  log: byId('log', HTMLOListElement),
  status: byId('status', HTMLElement),
  composer: byId('composer', HTMLFormElement),
  attachments: byId('attachments', HTMLUListElement),
  composerError: byId('composer-error', HTMLElement),
  imageInput: byId('image-input', HTMLInputElement),
  audioInput: byId('audio-input', HTMLInputElement),
  record: byId('record', HTMLButtonElement),
  prompt: byId('prompt', HTMLTextAreaElement),
  send: byId('send', HTMLButtonElement),
  stop: byId('stop', HTMLButtonElement),
  keyDialog: byId('key-dialog', HTMLDialogElement),
  keyForm: byId('key-form', HTMLFormElement),
  key: byId('key', HTMLInputElement),
  keyError: byId('key-error', HTMLElement),
  keyCancel: byId('key-cancel', HTMLButtonElement),
};

// ---------------------------------------------------------------- settings (kept across visits: no secrets here)

const settingsKey = 'hearth.playground.settings';
const settingFields = [el.system, el.temperature, el.topP, el.maxTokens, el.speculative];

function loadSettings(): void {
  try {
    const saved = JSON.parse(localStorage.getItem(settingsKey) ?? '{}') as Record<string, string>;
    for (const field of settingFields) if (typeof saved[field.name] === 'string') field.value = saved[field.name];
  } catch {}
}

function saveSettings(): void {
  try {
    localStorage.setItem(settingsKey, JSON.stringify(Object.fromEntries(settingFields.map((f) => [f.name, f.value]))));
  } catch {}
}

function showSettings(open: boolean): void {
  el.settings.hidden = !open;
  el.settingsToggle.setAttribute('aria-expanded', String(open));
}

/** An empty field leaves the parameter out, so the server's default applies. */
function numberSetting(field: HTMLInputElement): number | undefined {
  const n = field.valueAsNumber;
  return field.value.trim() === '' || Number.isNaN(n) ? undefined : n;
}

// ---------------------------------------------------------------- API key dialog

onKeyNeeded(
  (problem) =>
    new Promise((resolve) => {
      el.keyError.hidden = problem === null;
      el.keyError.textContent = problem ?? '';
      el.key.value = '';
      const done = (key: string | null) => {
        el.keyForm.removeEventListener('submit', submit);
        el.keyCancel.removeEventListener('click', cancel);
        el.keyDialog.removeEventListener('cancel', cancel);
        el.keyDialog.close();
        resolve(key);
      };
      const submit = (e: Event) => {
        e.preventDefault();
        if (el.key.value.trim()) done(el.key.value.trim());
      };
      const cancel = (e: Event) => {
        e.preventDefault();
        done(null);
      };
      el.keyForm.addEventListener('submit', submit);
      el.keyCancel.addEventListener('click', cancel);
      el.keyDialog.addEventListener('cancel', cancel);
      if (!el.keyDialog.open) el.keyDialog.showModal();
      el.key.focus();
    }),
);

// ---------------------------------------------------------------- model picker and engine status

let modelId = '';

async function loadModels(): Promise<void> {
  for (;;) {
    try {
      const models = await listModels();
      el.model.replaceChildren(...models.map((m) => h('option', { value: m.id }, m.id)));
      modelId = models[0]?.id ?? '';
      return;
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 503) {
        el.model.replaceChildren(h('option', { value: '' }, 'unavailable'));
        el.engine.textContent = err instanceof Error ? err.message : String(err);
        return;
      }
      const state = await health().catch(() => null);
      el.engine.textContent = `model loading ${Math.round((state?.fraction ?? 0) * 100)}%`;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

let metricsTimer = 0;
let polling = false;

/** One chain of polls: a call while a poll is out only cancels the wait, the poll out schedules the next. */
async function pollEngine(): Promise<void> {
  clearTimeout(metricsTimer);
  if (polling || document.hidden) return;
  polling = true;
  try {
    const m = await metrics();
    const active = m.get('hearth_slots_active') ?? 0;
    const parts: (Node | string)[] = [
      h('span', { class: active > 0 ? 'busy' : '' }, `slots ${active}/${m.get('hearth_slots') ?? '?'} busy`),
      ` · queue ${m.get('hearth_queue_depth') ?? 0}`,
      ` · decode ${Math.round(m.get('hearth_decode_tokens_per_second') ?? 0)} tok/s`,
    ];
    const drafted = m.get('hearth_draft_tokens_total') ?? 0;
    if (drafted > 0) parts.push(` · drafts ${Math.round((100 * (m.get('hearth_draft_tokens_accepted_total') ?? 0)) / drafted)}% accepted`);
    el.engine.replaceChildren(...parts);
  } catch (err) {
    el.engine.textContent = err instanceof ApiError && err.status === 401 ? 'API key needed' : 'metrics unavailable';
  } finally {
    polling = false;
  }
  // quicker while a reply streams, so the slot count follows it
  metricsTimer = window.setTimeout(pollEngine, inFlight ? 1000 : 5000);
}

// ---------------------------------------------------------------- attachments

let attachments: Attachment[] = [];
let recording: Recording | null = null;

function composerError(message: string | null): void {
  el.composerError.hidden = message === null;
  el.composerError.textContent = message ?? '';
}

function mediaPreview(a: Attachment): HTMLElement {
  return a.kind === 'image'
    ? h('img', { src: a.previewUrl, alt: a.name })
    : h('audio', { src: a.previewUrl, controls: true, preload: 'metadata', 'aria-label': a.name });
}

function drawAttachments(): void {
  el.attachments.replaceChildren(
    ...attachments.map((a, i) =>
      h(
        'li',
        { class: 'chip', 'data-kind': a.kind },
        mediaPreview(a),
        h('span', {}, `${a.name} · ${a.detail}`),
        h('button', {
          type: 'button',
          'aria-label': `Remove ${a.name}`,
          onclick: () => {
            attachments = attachments.filter((_, j) => j !== i);
            drawAttachments();
          },
        }, '×'),
      ),
    ),
  );
}

async function attach(work: Promise<Attachment>): Promise<void> {
  try {
    attachments.push(await work);
    composerError(null);
    drawAttachments();
  } catch (err) {
    composerError(err instanceof MediaError ? err.message : `Could not attach: ${(err as Error).message}`);
  }
}

async function toggleRecording(): Promise<void> {
  if (recording) {
    const finished = recording;
    recording = null;
    el.record.setAttribute('aria-pressed', 'false');
    el.record.textContent = 'Record';
    await attach(finished.stop().then((blob) => audioAttachment(blob, 'recording')));
    return;
  }
  try {
    recording = await startRecording(() => void toggleRecording());
    el.record.setAttribute('aria-pressed', 'true');
    el.record.textContent = 'Stop recording';
    composerError(null);
  } catch (err) {
    composerError((err as Error).message);
  }
}

// ---------------------------------------------------------------- conversation

const turns: ChatMessage[] = [];
let inFlight: AbortController | null = null;

function announce(text: string): void {
  el.status.textContent = text;
}

/** Keep the newest text in view, unless the reader scrolled up to read. */
function follow(update: () => void): void {
  const log = el.log;
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  update();
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function userMessage(text: string, media: Attachment[]): HTMLLIElement {
  return h(
    'li',
    { class: 'msg user' },
    h('p', { class: 'role' }, 'You'),
    media.length > 0 && h('div', { class: 'media' }, ...media.map(mediaPreview)),
    text && h('p', { class: 'text' }, text),
  );
}

function errorMessage(err: unknown): HTMLLIElement {
  const e = err instanceof ApiError ? err : new ApiError(err instanceof Error ? err.message : String(err), 0);
  const title = [e.status ? `Error ${e.status}` : 'Error', e.code].filter(Boolean).join(' · ');
  const hint =
    e.code === 'unsupported_content'
      ? 'The served model takes text only: it has no projector for images or audio.'
      : e.status === 413
        ? 'The attachments are larger than the server accepts (HEARTH_MAX_BODY_BYTES).'
        : null;
  return h(
    'li',
    { class: 'msg error', role: 'alert', 'data-status': e.status, 'data-code': e.code ?? '' },
    h('strong', {}, title),
    h('span', { class: 'message' }, e.message),
    hint && h('span', { class: 'hint' }, ` ${hint}`),
  );
}

function request(messages: ChatMessage[]): ChatRequest {
  const body: ChatRequest = { messages };
  if (modelId) body.model = modelId;
  const temperature = numberSetting(el.temperature);
  const topP = numberSetting(el.topP);
  const maxTokens = numberSetting(el.maxTokens);
  if (temperature !== undefined) body.temperature = temperature;
  if (topP !== undefined) body.top_p = topP;
  if (maxTokens !== undefined) body.max_tokens = maxTokens;
  if (el.speculative.value) body.speculative = { type: el.speculative.value };
  return body;
}

function setBusy(busy: boolean): void {
  el.send.hidden = busy;
  el.stop.hidden = !busy;
  el.send.disabled = busy;
}

async function send(): Promise<void> {
  if (inFlight) return;
  if (recording) return composerError('Stop the recording first: it becomes an attachment.');
  const text = el.prompt.value.trim();
  if (!text && attachments.length === 0) return;
  const media = attachments;
  const content: string | ContentPart[] =
    media.length === 0 ? text : [...(text ? [{ type: 'text' as const, text }] : []), ...media.map((a) => a.part)];
  const user: ChatMessage = { role: 'user', content };
  const system = el.system.value.trim();
  const messages: ChatMessage[] = [...(system ? [{ role: 'system' as const, content: system }] : []), ...turns, user];

  const userLi = userMessage(text, media);
  const textEl = h('p', { class: 'text' });
  const statsEl = h('div', { class: 'stats' });
  const replyLi = h('li', { class: 'msg assistant', 'aria-busy': 'true', 'data-state': 'streaming' },
    h('p', { class: 'role' }, modelId || 'model'), textEl, statsEl);
  follow(() => el.log.append(userLi, replyLi));
  el.prompt.value = '';
  fitPrompt();
  attachments = [];
  drawAttachments();
  composerError(null);

  const meter = new ReplyMeter(statsEl);
  const controller = new AbortController();
  inFlight = controller;
  setBusy(true);
  void pollEngine();
  let reply = '';
  let end: ReplyEnd | null = null;
  try {
    end = await streamChat(request(messages), controller.signal, (piece) => {
      reply += piece;
      meter.arrived();
      follow(() => textEl.append(piece));
    });
    replyLi.dataset.state = 'done';
    turns.push(user, { role: 'assistant', content: reply });
    announce(`Reply finished${end.finishReason === 'length' ? ' at the token limit' : ''}.`);
  } catch (err) {
    if ((err as Error).name === 'AbortError') {
      replyLi.dataset.state = 'stopped';
      // the partial reply stays in the conversation, as it was shown
      turns.push(user, { role: 'assistant', content: reply });
      announce('Stopped.');
    } else {
      replyLi.dataset.state = 'failed';
      userLi.classList.add('failed');
      follow(() => replyLi.replaceWith(errorMessage(err)));
      announce(`Error: ${(err as Error).message}`);
    }
  } finally {
    if (replyLi.isConnected) {
      replyLi.setAttribute('aria-busy', 'false');
      meter.finish(end);
    }
    inFlight = null;
    setBusy(false);
    el.prompt.focus();
    void pollEngine();
  }
}

function stop(): void {
  inFlight?.abort();
}

function newChat(): void {
  stop();
  turns.length = 0;
  el.log.replaceChildren();
  el.prompt.focus();
}

function fitPrompt(): void {
  // CSSOM writes are allowed under the CSP (only style attributes in markup are not)
  el.prompt.style.height = 'auto';
  el.prompt.style.height = `${el.prompt.scrollHeight + 2}px`;
}

// ---------------------------------------------------------------- wiring

loadSettings();
// beside the chat on wide screens, folded away on narrow ones (the toggle still opens it)
const wide = matchMedia('(min-width: 761px)');
showSettings(wide.matches);
wide.addEventListener('change', () => showSettings(wide.matches));
el.settingsToggle.addEventListener('click', () => showSettings(el.settings.hidden));
el.settingsForm.addEventListener('input', saveSettings);
el.settingsForm.addEventListener('submit', (e) => e.preventDefault());
el.newChat.addEventListener('click', newChat);
el.model.addEventListener('change', () => (modelId = el.model.value));

el.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  void send();
});
el.stop.addEventListener('click', stop);
el.prompt.addEventListener('input', fitPrompt);
el.prompt.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    void send();
  }
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && inFlight && !el.keyDialog.open) {
    e.preventDefault();
    stop();
  }
});

el.imageInput.addEventListener('change', async () => {
  for (const file of Array.from(el.imageInput.files ?? [])) await attach(imageAttachment(file));
  el.imageInput.value = '';
});
el.audioInput.addEventListener('change', async () => {
  const file = el.audioInput.files?.[0];
  if (file) await attach(audioAttachment(file, file.name));
  el.audioInput.value = '';
});
el.record.addEventListener('click', () => void toggleRecording());
document.addEventListener('visibilitychange', () => void pollEngine());

void loadModels().then(pollEngine);
