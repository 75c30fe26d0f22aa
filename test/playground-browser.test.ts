/**
 * The playground in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core), against real servers
 * serving stories260K: the app on Node (@hono/node-server, from source) and the built bundle on workerd. On both:
 * a prompt streams into the page and its final text equals the API's greedy output; Esc stops a long reply and
 * /metrics shows the slot freed; an image attachment reaches the server and its "text only" 400 is shown plainly.
 * On Node also: audio (an uploaded WAV and a fake-microphone recording) leaves as 16 kHz mono WAV parts,
 * speculation's drafted/accepted bar matches the API's usage, and the API-key dialog. Screenshots go to
 * test-artifacts/.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readNodeCoreModule } from '../src/core/node.ts';
import type { Engine } from '../src/engine/api.ts';
import { fileSource } from '../src/host/node/file-source.ts';
import { serveNode, type NodeServer } from '../src/host/node/serve.ts';
import { startEngine } from '../src/host/start.ts';
import { createApp } from '../src/http/app.ts';
import { encodeWav } from '../src/playground/encoding.ts';
import { bin, buildIntoTemp, freePort, startChild, waitForHttp, type Child } from './helpers/hosts.ts';
import { repoRoot, sharedModel, sharedModels } from './helpers/models.ts';

const chromiumPath = '/usr/bin/chromium';
const artifacts = join(repoRoot, 'test-artifacts');
const prompt = 'Tell me a story';
/** Far more than the ~40 characters the test waits for before it presses Esc. */
const longReply = 1900;

async function launch(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} is missing: this test needs Debian's chromium (apt-get install chromium; .ci/run installs it)`);
  }
  // playwright gives each launch a fresh temporary --user-data-dir and removes it on close
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    chromiumSandbox: false,
    args: [
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // a fake microphone (a beep) that needs no permission prompt
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
    ],
  });
}

/** A page that records CSP violations and script errors, so any test can assert there were none. */
async function openPage(browser: Browser, url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  await page.goto(url);
  await page.waitForSelector('#model option[value="stories260K"]', { state: 'attached', timeout: 10_000 });
  return { page, problems };
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1];
  assert.ok(value !== undefined, `/metrics has ${name}`);
  return Number(value);
}

async function apiChat(url: string, body: object): Promise<{ text: string; usage: Record<string, unknown> }> {
  const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(body) });
  assert.is(res.status, 200, 'the API answers');
  const json = await res.json();
  return { text: json.choices[0].message.content, usage: json.usage };
}

async function settings(page: Page, values: { temperature?: string; max_tokens?: string; speculative?: string }) {
  if (values.temperature !== undefined) await page.fill('#temperature', values.temperature);
  if (values.max_tokens !== undefined) await page.fill('#max_tokens', values.max_tokens);
  if (values.speculative !== undefined) await page.selectOption('#speculative', values.speculative);
}

async function sendWithEnter(page: Page, text: string): Promise<void> {
  await page.fill('#prompt', text);
  await page.press('#prompt', 'Enter');
}

const lastReply = 'li.msg.assistant:last-of-type';

/** Streaming: text appears in several steps, and the final text is the API's greedy output for the same request. */
async function streamsGreedyText(page: Page, url: string): Promise<void> {
  const expected = await apiChat(url, { messages: [{ role: 'user', content: prompt }], max_tokens: 48, temperature: 0 });
  assert.ok(expected.text.length > 20, 'stories260K says something');
  await settings(page, { temperature: '0', max_tokens: '48' });
  // every text length the reply goes through while it streams
  await page.evaluate(() => {
    const seen: number[] = [];
    (window as unknown as { seen: number[] }).seen = seen;
    new MutationObserver(() => {
      const text = document.querySelector('li.msg.assistant .text');
      if (text && text.textContent!.length !== seen[seen.length - 1]) seen.push(text.textContent!.length);
    }).observe(document.getElementById('log')!, { childList: true, subtree: true, characterData: true });
  });
  await sendWithEnter(page, prompt);
  await page.waitForSelector(`${lastReply}[data-state="done"]`, { timeout: 20_000 });
  assert.is(await page.textContent(`${lastReply} .text`), expected.text);
  const seen = await page.evaluate(() => (window as unknown as { seen: number[] }).seen);
  assert.ok(seen.length >= 8, `the text grew in ${seen.length} steps: streamed, not all at once`);
  assert.ok(seen.every((n, i) => i === 0 || n > seen[i - 1]), 'and only grew');
  // the numbers under the reply come from the server's usage/timings
  assert.is(await page.textContent(`${lastReply} .reply-n`), String(expected.usage.completion_tokens));
  assert.is(await page.textContent(`${lastReply} .prompt-n`), String(expected.usage.prompt_tokens));
  assert.match((await page.textContent(`${lastReply} .decode-rate`))!, /^\d/);
  assert.match((await page.textContent(`${lastReply} .prompt-rate`))!, /^\d/);
  assert.is(await page.getAttribute(`${lastReply}`, 'aria-busy'), 'false');
}

/**
 * Esc mid-stream aborts the request: the server frees the slot at once (seen in /metrics), it generated far fewer
 * tokens than asked for (so the stop, not the end of the reply, freed it), and the page's text stops growing.
 */
async function stopFreesTheSlot(page: Page, url: string): Promise<void> {
  await page.click('#new-chat');
  await settings(page, { temperature: '0', max_tokens: String(longReply) });
  const generatedBefore = await metric(url, 'hearth_completion_tokens_total');
  await sendWithEnter(page, prompt);
  await page.waitForFunction(() => (document.querySelector('li.msg.assistant .text')?.textContent ?? '').length > 40);
  assert.is(await metric(url, 'hearth_slots_active'), 1, 'the reply holds a slot while it streams');
  assert.ok(await page.isVisible('#stop'), 'the stop button shows while streaming');
  await page.keyboard.press('Escape');
  await page.waitForSelector(`${lastReply}[data-state="stopped"]`, { timeout: 5000 });
  const stoppedAt = Date.now();
  let active = 1;
  while (active !== 0 && Date.now() - stoppedAt < 1000) {
    await new Promise((r) => setTimeout(r, 25));
    active = await metric(url, 'hearth_slots_active');
  }
  assert.is(active, 0, 'the slot is free within 1 s of the stop');
  const generated = (await metric(url, 'hearth_completion_tokens_total')) - generatedBefore;
  assert.ok(generated > 0 && generated < longReply, `the server stopped after ${generated} of ${longReply} tokens`);
  const length = (await page.textContent(`${lastReply} .text`))!.length;
  await page.waitForTimeout(300);
  assert.is((await page.textContent(`${lastReply} .text`))!.length, length, 'no text after the stop');
  const received = Number(await page.textContent(`${lastReply} .reply-n`));
  assert.ok(received > 0 && received <= generated, `the page got ${received} pieces`);
  assert.ok(await page.isVisible('#send'), 'send is back');
}

/** A PNG from the page's own screenshot: attached, previewed, sent as image_url; the text-only model's 400 shown. */
async function imageGetsAClearError(page: Page): Promise<void> {
  await page.click('#new-chat');
  const png = await page.screenshot({ clip: { x: 0, y: 0, width: 48, height: 48 } });
  await page.setInputFiles('#image-input', { name: 'corner.png', mimeType: 'image/png', buffer: png });
  await page.waitForSelector('#attachments li[data-kind="image"] img');
  assert.ok(await page.$eval('#attachments img', (img) => (img as HTMLImageElement).decode().then(() => (img as HTMLImageElement).naturalWidth)) === 48);
  const sent = page.waitForRequest((r) => r.url().endsWith('/v1/chat/completions'));
  await sendWithEnter(page, 'What is in this picture?');
  const body = JSON.parse((await sent).postData()!);
  const parts = body.messages[body.messages.length - 1].content;
  assert.equal(parts[0], { type: 'text', text: 'What is in this picture?' });
  assert.is(parts[1].type, 'image_url');
  assert.is(parts[1].image_url.url, `data:image/png;base64,${png.toString('base64')}`);
  const error = await page.waitForSelector('li.msg.error[role="alert"]');
  assert.is(await error.getAttribute('data-status'), '400');
  assert.is(await error.getAttribute('data-code'), 'unsupported_content');
  assert.match((await error.textContent())!, /text only/);
  assert.ok(await page.isVisible('li.msg.user.failed .media img'), 'the failed message keeps its image');
  assert.is(await page.$$eval('#attachments li', (l) => l.length), 0, 'the composer is cleared');
}

function wavFormat(bytes: Buffer) {
  assert.is(bytes.toString('latin1', 0, 4), 'RIFF');
  assert.is(bytes.toString('latin1', 8, 12), 'WAVE');
  const data = bytes.subarray(44);
  let peak = 0;
  for (let i = 0; i + 1 < data.length; i += 2) peak = Math.max(peak, Math.abs(data.readInt16LE(i)));
  return {
    format: bytes.readUInt16LE(20),
    channels: bytes.readUInt16LE(22),
    rate: bytes.readUInt32LE(24),
    bits: bytes.readUInt16LE(34),
    seconds: bytes.readUInt32LE(40) / 2 / bytes.readUInt32LE(24),
    peak,
  };
}

async function sentAudio(page: Page, text: string) {
  const sent = page.waitForRequest((r) => r.url().endsWith('/v1/chat/completions'));
  await sendWithEnter(page, text);
  const body = JSON.parse((await sent).postData()!);
  const part = body.messages[body.messages.length - 1].content.find((p: { type: string }) => p.type === 'input_audio');
  assert.ok(part, 'an input_audio part was sent');
  assert.is(part.input_audio.format, 'wav');
  await page.waitForSelector('li.msg.error:last-of-type[data-code="unsupported_content"]');
  return wavFormat(Buffer.from(part.input_audio.data, 'base64'));
}

/**
 * uvu swallows an error thrown in a before() hook (the suite then "passes" 0 of N with exit code 0), so the hosts
 * start inside the first test that needs them: a missing Chromium or model folder fails every test, plainly.
 */
function once<T>(start: () => Promise<T>): () => Promise<T> {
  let started: Promise<T> | null = null;
  return () => (started ??= start());
}

interface NodeHosts {
  browser: Browser;
  engine: Engine;
  server: NodeServer;
  /** The same engine behind an API key. */
  locked: NodeServer;
}

const onNode = suite('playground in Chromium, served by Node');
/** Filled as each piece starts, so after() stops what exists even when the start failed half way. */
const onNodeHosts: Partial<NodeHosts> = {};
const nodeHosts = once(async (): Promise<NodeHosts> => {
  const h = onNodeHosts;
  mkdirSync(artifacts, { recursive: true });
  const model = sharedModel('stories260K.gguf');
  h.browser = await launch();
  h.engine = await startEngine(await fileSource(model), readNodeCoreModule(), { parallel: 2, queueLimit: 8, context: 2048, threads: 1 });
  h.server = await serveNode(createApp(h.engine), { port: 0, hostname: '127.0.0.1' });
  h.locked = await serveNode(createApp(h.engine, { apiKey: 'sesame' }), { port: 0, hostname: '127.0.0.1' });
  return h as NodeHosts;
});

onNode.after(async () => {
  const h = onNodeHosts;
  await h.browser?.close();
  await h.server?.close();
  await h.locked?.close();
  await h.engine?.close();
});

onNode('streams a reply equal to the greedy API output; stop frees the slot; an image gets a clear error', async () => {
  const { browser, server } = await nodeHosts();
  const { page, problems } = await openPage(browser, server.url);
  await streamsGreedyText(page, server.url);
  await page.screenshot({ path: join(artifacts, 'playground-node.png') });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: join(artifacts, 'playground-node-dark.png') });
  await page.emulateMedia({ colorScheme: 'light' });
  await stopFreesTheSlot(page, server.url);
  await imageGetsAClearError(page);
  await page.screenshot({ path: join(artifacts, 'playground-node-error.png') });
  // a phone-sized window: nothing wider than the screen
  await page.setViewportSize({ width: 390, height: 760 });
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling');
  await page.screenshot({ path: join(artifacts, 'playground-node-narrow.png') });
  assert.equal(problems, [], 'no CSP violations or script errors');
  await page.close();
});

onNode('audio: an uploaded 44.1 kHz stereo WAV and a microphone recording both leave as 16 kHz mono WAV', async () => {
  const { browser, server } = await nodeHosts();
  const { page, problems } = await openPage(browser, server.url);
  // 0.75 s of a 440 Hz tone, left channel only, at 44.1 kHz: the page must downmix and resample it
  const rate = 44100;
  const frames = Math.round(0.75 * rate);
  const stereo = new Float32Array(frames * 2);
  for (let i = 0; i < frames; i++) stereo[2 * i] = 0.8 * Math.sin((2 * Math.PI * 440 * i) / rate);
  const upload = Buffer.from(encodeWav(stereo, rate));
  // encodeWav writes mono: relabel as 2 channels (block align 4, byte rate 4·rate) for a genuine stereo file
  upload.writeUInt16LE(2, 22);
  upload.writeUInt32LE(rate * 4, 28);
  upload.writeUInt16LE(4, 32);
  await page.setInputFiles('#audio-input', { name: 'tone.wav', mimeType: 'audio/wav', buffer: upload });
  await page.waitForSelector('#attachments li[data-kind="audio"]');
  assert.match((await page.textContent('#attachments li'))!, /tone\.wav · 0\.8 s/);
  const uploaded = await sentAudio(page, 'What do you hear?');
  assert.equal({ ...uploaded, seconds: Math.round(uploaded.seconds * 100) / 100, peak: undefined },
    { format: 1, channels: 1, rate: 16000, bits: 16, seconds: 0.75, peak: undefined });
  // the tone was in one channel of two: about half its amplitude after the downmix
  assert.ok(uploaded.peak > 0.3 * 32767 && uploaded.peak < 0.5 * 32767, `peak ${uploaded.peak}`);

  await page.click('#record');
  await page.waitForSelector('#record[aria-pressed="true"]'); // once the microphone is open
  await page.waitForTimeout(800);
  await page.click('#record');
  await page.waitForSelector('#attachments li[data-kind="audio"]');
  const recorded = await sentAudio(page, 'Transcribe this');
  assert.equal([recorded.format, recorded.channels, recorded.rate, recorded.bits], [1, 1, 16000, 16]);
  assert.ok(recorded.seconds > 0.3 && recorded.seconds < 3, `recorded ${recorded.seconds} s`);
  assert.ok(recorded.peak > 1000, `the fake microphone's beep is in it (peak ${recorded.peak})`);
  assert.equal(problems, []);
  await page.close();
});

onNode('speculation: the drafted/accepted bar shows the same numbers as the API usage for the request', async () => {
  const { browser, server } = await nodeHosts();
  // fixed-length drafting on both sides: adaptive lengths (the default) follow measured times, so two runs may differ
  const body = { messages: [{ role: 'user', content: prompt }], max_tokens: 64, temperature: 0, speculative: { type: 'ngram', adaptive: false } };
  const api = await apiChat(server.url, body);
  const spec = api.usage.speculative as { drafted_tokens: number; accepted_tokens: number } | undefined;
  assert.ok(spec && spec.drafted_tokens > 0, 'n-gram speculation drafted something on this prompt');
  const { page, problems } = await openPage(browser, server.url);
  await page.route('**/v1/chat/completions', (route) => {
    const sent = JSON.parse(route.request().postData() ?? '{}');
    if (sent.speculative) sent.speculative.adaptive = false;
    return route.continue({ postData: JSON.stringify(sent) });
  });
  await settings(page, { temperature: '0', max_tokens: '64', speculative: 'ngram' });
  await sendWithEnter(page, prompt);
  await page.waitForSelector(`${lastReply}[data-state="done"]`);
  assert.is(await page.textContent(`${lastReply} .text`), api.text, 'speculation changes nothing in greedy text');
  const bar = await page.waitForSelector(`${lastReply} .speculation`);
  assert.is(await bar.getAttribute('data-drafted'), String(spec.drafted_tokens));
  assert.is(await bar.getAttribute('data-accepted'), String(spec.accepted_tokens));
  const filled = Number(await page.getAttribute(`${lastReply} .speculation rect.accepted`, 'width'));
  assert.ok(Math.abs(filled - (80 * spec.accepted_tokens) / spec.drafted_tokens) < 0.01, 'the bar is drawn to scale');
  await page.screenshot({ path: join(artifacts, 'playground-node-speculation.png') });
  assert.equal(problems, []);
  await page.close();
});

onNode('API key: asked once in a dialog (a wrong one is refused), then kept in session storage', async () => {
  const { browser, locked } = await nodeHosts();
  const page = await browser.newPage();
  await page.goto(locked.url);
  await page.waitForSelector('#key-dialog[open]');
  await page.fill('#key', 'wrong');
  await page.press('#key', 'Enter');
  await page.waitForSelector('#key-error:not([hidden])');
  assert.match((await page.textContent('#key-error'))!, /Incorrect API key/);
  await page.fill('#key', 'sesame');
  await page.press('#key', 'Enter');
  await page.waitForSelector('#model option[value="stories260K"]', { state: 'attached' });
  assert.is(await page.evaluate(() => sessionStorage.getItem('hearth.apiKey')), 'sesame');
  await page.reload();
  await page.waitForSelector('#model option[value="stories260K"]', { state: 'attached' });
  assert.not.ok(await page.isVisible('#key-dialog'), 'not asked again in this tab');
  await settings(page, { temperature: '0', max_tokens: '8' });
  await sendWithEnter(page, prompt);
  await page.waitForSelector(`${lastReply}[data-state="done"]`);
  await page.close();
});

onNode.run();

interface WorkerdHost {
  browser: Browser;
  root: string;
  child: Child;
  url: string;
}

const onWorkerd = suite('playground in Chromium, served by the bundle on workerd');
const onWorkerdHost: Partial<WorkerdHost> = {};
const workerdHost = once(async (): Promise<WorkerdHost> => {
  const h = onWorkerdHost;
  sharedModel('stories260K.gguf');
  mkdirSync(artifacts, { recursive: true });
  h.browser = await launch();
  h.root = await buildIntoTemp();
  const port = await freePort();
  h.url = `http://127.0.0.1:${port}`;
  h.child = startChild(
    bin('workerd'),
    ['serve', join(h.root, 'scripts/workerd.capnp'), '--directory-path', `models=${sharedModels}`, '--socket-addr', `http=127.0.0.1:${port}`],
    { env: { HEARTH_MODEL: 'stories260K.gguf', HEARTH_PARALLEL: '2', HEARTH_CONTEXT: '2048' } },
  );
  await waitForHttp(`${h.url}/health`, h.child, 30_000);
  return h as WorkerdHost;
});

onWorkerd.after(async () => {
  const h = onWorkerdHost;
  await h.browser?.close();
  await h.child?.stop();
  if (h.root) rmSync(h.root, { recursive: true, force: true });
});

onWorkerd('streams greedy text, stop frees the slot, an image gets a clear error (page from the bundle)', async () => {
  const { browser, url } = await workerdHost();
  const { page, problems } = await openPage(browser, url);
  await streamsGreedyText(page, url);
  await page.screenshot({ path: join(artifacts, 'playground-workerd.png') });
  await stopFreesTheSlot(page, url);
  await imageGetsAClearError(page);
  assert.equal(problems, [], 'no CSP violations or script errors');
  await page.close();
});

onWorkerd.run();
