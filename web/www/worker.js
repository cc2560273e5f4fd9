// The engine's thread: downloads (kept in the Cache API), GPU upload, and generation run
// here so the page never freezes. Messages in: init, load, chat, stop. Out: ready, progress,
// loaded, step, done, error.
import init, { Engine } from './pkg/cospec_web.js';

const CACHE = 'cospec-models-v1';
let engine = null;
let stopRequested = false;

const post = (msg) => self.postMessage(msg);

// Downloads in flight by URL: when draft and target name the same file, it is fetched once
// and both roles follow its progress.
const downloads = new Map();

// A model file as a Blob: from the Cache API when an earlier visit kept it, else downloaded
// (and kept if the browser's storage has room). The engine reads it one tensor at a time, so
// the wasm heap never holds the whole model. Resolves to { blob, notKept } where notKept says
// why a download could not be kept for the next visit (null when it was, or came from there).
function modelBlob(url, onProgress) {
  let d = downloads.get(url);
  if (!d) {
    d = { listeners: new Set() };
    d.promise = fetchModel(url, (...a) => d.listeners.forEach((f) => f(...a)))
      .finally(() => downloads.delete(url));
    downloads.set(url, d);
  }
  d.listeners.add(onProgress);
  return d.promise;
}

async function openCache() {
  try { return await caches.open(CACHE); } catch (_) { return null; } // storage off (e.g. some private modes)
}

async function fetchModel(url, onProgress) {
  const cache = await openCache();
  const hit = cache && await cache.match(url);
  if (hit) {
    const blob = await hit.blob();
    onProgress('cached', blob.size, blob.size);
    return { blob, notKept: null };
  }
  let got;
  try {
    got = await download(url, onProgress, (body) => new Response(body).blob());
  } catch (err) {
    if (err.httpStatus) throw err;
    // Chrome streams a large download into a Blob on disk; with the disk nearly full that
    // fails. Held in memory instead, the model still runs this visit.
    console.warn(`${url}: download into browser storage failed (${err.message}); downloading into memory`);
    got = await download(url, onProgress, inMemoryBlob);
  }
  const { blob, headers } = got;
  const notKept = await keep(cache, url, blob, headers);
  if (notKept) console.warn(`${url} is not kept for the next visit: ${notKept}`);
  return { blob, notKept };
}

// One download of `url` through `toBlob`, checked against its announced length.
async function download(url, onProgress, toBlob) {
  const net = await fetch(url);
  if (!net.ok) throw Object.assign(new Error(`${url}: HTTP ${net.status} ${net.statusText}`), { httpStatus: net.status });
  // A compressed transfer's length is not the file's: no total, no length check then.
  const encoded = (net.headers.get('content-encoding') || 'identity') !== 'identity';
  const total = encoded ? 0 : Number(net.headers.get('content-length')) || 0;
  let done = 0;
  const counted = net.body.pipeThrough(new TransformStream({
    transform(chunk, ctl) { done += chunk.byteLength; onProgress('download', done, total); ctl.enqueue(chunk); },
  }));
  const blob = await toBlob(counted);
  if (total && blob.size !== total) throw new Error(`${url}: download ended after ${blob.size} of ${total} bytes`);
  return { blob, headers: net.headers };
}

async function inMemoryBlob(body) {
  const chunks = [];
  for (const reader = body.getReader(); ;) {
    const { done, value } = await reader.read();
    if (done) return new Blob(chunks);
    chunks.push(value);
  }
}

// Stores a download for the next visit. A full disk or a small storage quota must not stop
// the model from loading now: it then says why, and the model runs from this download.
async function keep(cache, url, blob, headers) {
  if (!cache) return 'the browser offers no storage to this page';
  try {
    const { quota, usage } = navigator.storage?.estimate ? await navigator.storage.estimate() : {};
    if (Number.isFinite(quota) && quota - (usage || 0) < blob.size) {
      return `the browser's storage has room for ${mib(quota - (usage || 0))}, the file needs ${mib(blob.size)}`;
    }
    // The headers of what is stored: the network's may describe a compressed transfer.
    const stored = { 'content-type': headers.get('content-type') || 'application/octet-stream', 'content-length': String(blob.size) };
    await cache.put(url, new Response(blob, { headers: stored }));
    return null;
  } catch (err) {
    return `the browser refused to store it (${String(err && err.message || err).replace(/\.+$/, '')})`;
  }
}

const mib = (n) => `${(Math.max(0, n) / 2 ** 20).toFixed(1)} MiB`;

async function handle(m) {
  switch (m.type) {
    case 'init': {
      if (!navigator.gpu) throw new Error('NO_WEBGPU');
      await init();
      engine = await Engine.create(m.maxBindingBytes || 0, m.matmul || '', m.weights || '', m.loseDeviceAt || 0);
      post({ type: 'ready', adapter: JSON.parse(engine.adapter()) });
      break;
    }
    case 'load': {
      let files;
      let notKept = null;
      if (m.url) {
        const name = decodeURIComponent(new URL(m.url, self.location.href).pathname.split('/').pop());
        const got = await modelBlob(m.url, (phase, done, total) =>
          post({ type: 'progress', role: m.role, phase, done, total }));
        files = [new File([got.blob], name)];
        notKept = got.notKept;
      } else {
        files = m.files;
      }
      const summary = engine.load(m.role, files, (done, total) =>
        post({ type: 'progress', role: m.role, phase: 'upload', done, total }));
      post({ type: 'loaded', role: m.role, summary: JSON.parse(summary), ready: engine.ready(), notKept });
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
