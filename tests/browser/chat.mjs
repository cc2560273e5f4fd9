// Drives the cospec page in headless Chromium (playwright-core, /usr/bin/chromium): waits for
// both models, sends each prompt of the plan with its settings, and writes what the page
// showed (reply text from the transcript, statistics panel) as JSON, plus screenshots.
// Plan: {runs: [...] (a run with expect_error records the page's error and the composer's
// text instead of failing), files: {role: path} (picked through the page's file input instead of a
// URL), reload_check (reload, load again, count model downloads), quota_bytes (the page's
// storage quota, through the DevTools protocol), no_webgpu (hide navigator.gpu and record the
// page's message), timeout_s}.
// Usage: node tests/browser/chat.mjs URL PLAN_JSON OUT_JSON SCREENSHOT_DIR
import { createRequire } from 'node:module';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '../../web/package.json'));
const { chromium } = require('playwright-core');
const [url, planJson, outJson, shots] = process.argv.slice(2);
const plan = JSON.parse(planJson);
const timeout = (plan.timeout_s || 300) * 1000;

const profile = mkdtempSync(join(tmpdir(), 'cospec-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1360, height: 860 },
  args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-dev-shm-usage', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
const results = { runs: [] };
try { main: {
  const page = await browser.newPage();
  page.on('console', (m) => console.error(`[page ${m.type()}] ${m.text()}`));
  // Warnings, the worker's included, say how each download was handled.
  results.warnings = [];
  page.on('console', (m) => { if (m.type() === 'warning') results.warnings.push(m.text()); });
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  // Model downloads, from the page or its worker (both go through the context).
  let modelRequests = 0;
  browser.on('request', (r) => { if (r.url().includes('/models/')) modelRequests += 1; });
  if (plan.no_webgpu) {
    await page.addInitScript(() => { delete Object.getPrototypeOf(navigator).gpu; });
    await page.goto(url);
    await page.waitForSelector('#fatal:not([hidden])', { timeout });
    results.fatal = await page.textContent('#fatal');
    await page.screenshot({ path: join(shots, 'no-webgpu.png') });
    break main;
  }
  if (plan.quota_bytes !== undefined) {
    // The browser's storage quota for the page, as on a nearly full disk.
    const cdp = await browser.newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(url).origin, quotaSize: plan.quota_bytes });
  }
  // Opens (or reloads) the page and loads both models: from URLs, or picked as files.
  const load = async (open) => {
    await open();
    if (plan.files) {
      await page.waitForSelector('#adapter.ok', { timeout });
      for (const [role, path] of Object.entries(plan.files)) {
        await page.selectOption(`.model[data-role=${role}] .source`, '@files');
        await page.setInputFiles(`.model[data-role=${role}] .files`, path);
      }
      await page.click('#load');
    }
    await page.waitForFunction(() => document.body.dataset.ready === '1' || document.body.dataset.error, null, { timeout });
    const err = await page.evaluate(() => document.body.dataset.error);
    if (err) throw new Error(`page error while loading: ${err}`);
    return page.evaluate(() => ({
      bars: [...document.querySelectorAll('.bar span')].map((s) => s.textContent),
      not_kept: [...document.querySelectorAll('.summary .not-kept')].map((s) => s.textContent),
    }));
  };
  const t0 = Date.now();
  const first = await load(() => page.goto(url));
  results.load_s = (Date.now() - t0) / 1000;
  results.not_kept = first.not_kept;
  results.adapter = await page.textContent('#adapter');
  for (const [i, run] of plan.runs.entries()) {
    await page.click('#new-chat');
    await page.click(`#mode button[data-mode="${run.mode}"]`);
    if (run.policy) await page.selectOption('#policy', run.policy);
    await page.evaluate((r) => {
      const set = (id, v) => { const el = document.querySelector(id); el.value = String(v); el.dispatchEvent(new Event('input')); };
      set('#k', r.k || 4);
      set('#temperature', r.temperature || 0);
      set('#max-tokens', r.max_tokens || 32);
      document.querySelector('#chat').checked = !!r.chat;
    }, run);
    const before = Number(await page.evaluate(() => document.body.dataset.replies || 0));
    await page.fill('#prompt', run.prompt);
    await page.click('#send');
    if (run.mid_screenshot) {
      await page.waitForFunction(() => document.querySelectorAll('.msg.assistant.cursor span').length >= 12, null, { timeout });
      await page.screenshot({ path: join(shots, run.mid_screenshot) });
    }
    if (run.stop_after) {
      await page.waitForFunction((n) => document.querySelectorAll('.msg.assistant.cursor span').length >= n, run.stop_after, { timeout });
      await page.click('#stop');
    }
    await page.waitForFunction((n) => Number(document.body.dataset.replies || 0) > n || document.body.dataset.error, before, { timeout });
    const e2 = await page.evaluate(() => document.body.dataset.error);
    if (e2 && run.expect_error) {
      // A refused message: what the page said, and what it left in the composer.
      results.runs.push({ error: e2, composer: await page.inputValue('#prompt') });
      await page.evaluate(() => { delete document.body.dataset.error; });
      continue;
    }
    if (e2) throw new Error(`page error in run ${i}: ${e2}`);
    results.runs.push(await page.evaluate(() => {
      const msgs = document.querySelectorAll('.msg.assistant');
      const last = msgs[msgs.length - 1];
      const stat = (id) => document.querySelector(id).textContent;
      return {
        text: last.dataset.text,
        origins: [...new Set([...last.querySelectorAll('span:not(.meta)')].map((s) => s.className))],
        meta: last.querySelector('.meta')?.textContent,
        context_full: last.querySelector('.context-full')?.textContent,
        stats: { tok_per_s: stat('#s-tps'), tokens_per_pass: stat('#s-tpp'), passes: stat('#s-passes'), mismatches: stat('#s-mis'), keeps: stat('#s-keeps'), tokens: stat('#s-tokens') },
      };
    }));
    if (run.screenshot) await page.screenshot({ path: join(shots, run.screenshot) });
  }
  results.model_requests = modelRequests;
  if (plan.reload_check) {
    modelRequests = 0;
    const again = await load(() => page.reload());
    results.model_requests_after_reload = modelRequests;
    results.bars_after_reload = again.bars;
    results.not_kept_after_reload = again.not_kept;
  }
} } finally {
  writeFileSync(outJson, JSON.stringify(results, null, 1));
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
