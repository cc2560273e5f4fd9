// The engine's thread: downloads (kept in the Cache API), GPU upload, and generation run
// here so the page never freezes. Messages in: init, load, chat, stop. Out: ready, progress,
// loaded, step, done, error.
import init, { Engine } from './pkg/cospec_web.js';

const CACHE = 'cospec-models-v1';
let engine = null;
let stopRequested = false;

const post = (msg) => self.postMessage(msg);

// A download kept in the Cache API, returned as a Blob: the engine reads it one tensor at a
// time, so the wasm heap never holds the whole model.
async function cachedBlob(url, onProgress) {
  const cache = await caches.open(CACHE);
  let hit = await cache.match(url);
  if (!hit) {
    const net = await fetch(url);
    if (!net.ok) throw new Error(`${url}: HTTP ${net.status} ${net.statusText}`);
    const total = Number(net.headers.get('content-length')) || 0;
    let done = 0;
    const counted = net.body.pipeThrough(new TransformStream({
      transform(chunk, ctl) { done += chunk.byteLength; onProgress(done, total, false); ctl.enqueue(chunk); },
    }));
    await cache.put(url, new Response(counted, { headers: net.headers }));
    hit = await cache.match(url);
  }
  const blob = await hit.blob();
  onProgress(blob.size, blob.size, true);
  return blob;
}

async function handle(m) {
  switch (m.type) {
    case 'init': {
      if (!navigator.gpu) throw new Error('NO_WEBGPU');
      await init();
      engine = await Engine.create(m.maxBindingBytes || 0, m.matmul || '');
      post({ type: 'ready', adapter: JSON.parse(engine.adapter()) });
      break;
    }
    case 'load': {
      let files;
      if (m.url) {
        const name = decodeURIComponent(new URL(m.url, self.location.href).pathname.split('/').pop());
        const blob = await cachedBlob(m.url, (done, total, cached) =>
          post({ type: 'progress', role: m.role, phase: cached ? 'cached' : 'download', done, total }));
        files = [new File([blob], name)];
      } else {
        files = m.files;
      }
      const summary = engine.load(m.role, files, (done, total) =>
        post({ type: 'progress', role: m.role, phase: 'upload', done, total }));
      post({ type: 'loaded', role: m.role, summary: JSON.parse(summary), ready: engine.ready() });
      break;
    }
    case 'chat': {
      stopRequested = false;
      const final = await engine.chat(JSON.stringify(m.messages), JSON.stringify(m.settings), (json) => {
        post({ type: 'step', report: JSON.parse(json) });
        return !stopRequested;
      });
      post({ type: 'done', report: JSON.parse(final) });
      break;
    }
    case 'stop':
      stopRequested = true;
      break;
    case 'clear-cache':
      await caches.delete(CACHE);
      post({ type: 'cache-cleared' });
      break;
  }
}

self.onmessage = (e) => {
  handle(e.data).catch((err) => post({ type: 'error', during: e.data.type, role: e.data.role, message: String(err && err.message || err) }));
};
