// The page: settings, model pickers, the transcript with tokens coloured by origin, live
// statistics. All engine work happens in worker.js.
const $ = (s, el = document) => el.querySelector(s);
const params = new URLSearchParams(location.search);
const worker = new Worker('worker.js', { type: 'module' });

const state = { ready: false, busy: false, messages: [], mode: 'cospec', current: null, models: [] };
const roles = ['draft', 'target'];

function fatal(html) {
  const el = $('#fatal');
  el.innerHTML = html;
  el.hidden = false;
}

function fmtBytes(n) {
  if (!n) return '0 B';
  const u = ['B', 'KB', 'MB', 'GB'];
  const i = Math.min(3, Math.floor(Math.log(n) / Math.log(1024)));
  return `${(n / 1024 ** i).toFixed(i ? 1 : 0)} ${u[i]}`;
}

function bar(role, frac, label) {
  const el = $(`.model[data-role=${role}] .bar`);
  el.firstElementChild.style.width = `${Math.round(100 * Math.max(0, Math.min(1, frac)))}%`;
  el.lastElementChild.textContent = label;
}

// The two model pickers, from one template.
for (const role of roles) {
  const box = $(`.model[data-role=${role}]`);
  box.append($('#model-picker').content.cloneNode(true));
  $('label', box).innerHTML = `${box.dataset.label} <small>(${box.dataset.hint})</small>`;
}

// Model choices: models.json beside the page (scripts/web.sh writes it from the cache), a URL,
// or local files (one .gguf, or an HF folder's config.json + tokenizer.json + *.safetensors).
async function fillSources() {
  try {
    const r = await fetch('models.json', { cache: 'no-store' });
    if (r.ok) state.models = await r.json();
  } catch (_) { /* no list: URL and files still work */ }
  for (const role of roles) {
    const box = $(`.model[data-role=${role}]`);
    const sel = $('.source', box);
    for (const m of state.models) sel.add(new Option(`${m.name} (${fmtBytes(m.bytes)})`, m.url));
    sel.add(new Option('URL…', '@url'));
    sel.add(new Option('Local files…', '@files'));
    const want = params.get(role) || state.models.find((m) => m.default === role)?.url;
    if (want) {
      if (![...sel.options].some((o) => o.value === want)) sel.add(new Option(want, want), 0);
      sel.value = want;
    }
    sel.onchange = () => {
      $('.url', box).hidden = sel.value !== '@url';
      $('.files', box).hidden = sel.value !== '@files';
    };
    sel.onchange();
  }
}

function loadModels() {
  for (const role of roles) {
    const box = $(`.model[data-role=${role}]`);
    const v = $('.source', box).value;
    const msg = { type: 'load', role };
    if (v === '@url') msg.url = $('.url', box).value.trim();
    else if (v === '@files') msg.files = [...$('.files', box).files];
    else msg.url = v;
    if (!msg.url && !(msg.files && msg.files.length)) { bar(role, 0, 'choose a model'); continue; }
    bar(role, 0, 'starting…');
    worker.postMessage(msg);
  }
  $('#load').disabled = true;
}

function settings() {
  return {
    mode: state.mode,
    policy: $('#policy').value,
    k: Number($('#k').value),
    temperature: Number($('#temperature').value),
    max_tokens: Number($('#max-tokens').value),
    chat: $('#chat').checked,
    seed: 1,
  };
}

function addMessage(role, text) {
  $('.empty')?.remove();
  const el = document.createElement('div');
  el.className = `msg ${role}`;
  if (text) el.textContent = text;
  $('#transcript').append(el);
  el.scrollIntoView({ block: 'end' });
  return el;
}

function send(ev) {
  ev?.preventDefault();
  const text = $('#prompt').value.trim();
  if (!text || !state.ready || state.busy) return;
  $('#prompt').value = '';
  addMessage('user', text);
  state.messages.push({ role: 'user', content: text });
  const el = addMessage('assistant');
  el.classList.add('cursor');
  state.current = { el, text: '' };
  setBusy(true);
  worker.postMessage({ type: 'chat', messages: state.messages, settings: settings() });
}

function appendPieces(pieces) {
  const c = state.current;
  for (const [text, origin] of pieces) {
    const span = document.createElement('span');
    span.className = origin;
    span.textContent = text;
    c.el.append(span);
    c.text += text;
  }
  c.el.scrollIntoView({ block: 'end' });
}

function showStats(s) {
  const set = (id, v) => { $(id).textContent = v; };
  set('#s-tps', s.tok_per_s.toFixed(1));
  set('#s-tpp', s.tokens_per_pass.toFixed(2));
  set('#s-passes', s.target_passes);
  set('#s-mis', s.mismatches);
  set('#s-keeps', s.mode === 'cospec' ? `${s.keeps} (${Math.round(100 * s.keep_share)}%)` : '–');
  set('#s-tokens', s.generated);
}

function setBusy(b) {
  state.busy = b;
  $('#send').hidden = b;
  $('#stop').hidden = !b;
  $('#send').disabled = !state.ready;
  $('#load').disabled = b;
  document.body.dataset.busy = b ? '1' : '';
}

worker.onmessage = ({ data: m }) => {
  switch (m.type) {
    case 'ready': {
      const a = m.adapter;
      const badge = $('#adapter');
      badge.textContent = `${a.name} · ${a.backend} · weights in ${a.weights.toLowerCase()}s · binding ${fmtBytes(a.max_binding_bytes)}`;
      badge.title = JSON.stringify(a, null, 1);
      badge.classList.add('ok');
      if (params.get('autoload') === '1') loadModels();
      break;
    }
    case 'progress': {
      const f = m.total ? m.done / m.total : 0;
      const what = { download: 'downloading', cached: 'cached', upload: 'uploading to the GPU' }[m.phase];
      bar(m.role, m.phase === 'cached' ? 1 : f, `${what} ${fmtBytes(m.done)}${m.total ? ` / ${fmtBytes(m.total)}` : ''}`);
      break;
    }
    case 'loaded': {
      const s = m.summary;
      bar(m.role, 1, `ready: ${s.name}`);
      const summary = $(`.model[data-role=${m.role}] .summary`);
      summary.textContent = `${s.architecture}, ${s.layers} layers, vocab ${s.vocab}, ${fmtBytes(s.gpu_bytes)} on the GPU`;
      if (m.notKept) {
        const warn = document.createElement('div');
        warn.className = 'not-kept';
        warn.textContent = `Not kept for the next visit (a reload downloads it again): ${m.notKept}.`;
        summary.append(warn);
      }
      state.ready = m.ready;
      $('#load').disabled = false;
      $('#send').disabled = !state.ready;
      document.body.dataset.ready = state.ready ? '1' : '';
      break;
    }
    case 'step':
      appendPieces(m.report.pieces);
      showStats(m.report.stats);
      break;
    case 'done': {
      appendPieces(m.report.pieces);
      const s = m.report.stats;
      showStats(s);
      const c = state.current;
      c.el.classList.remove('cursor');
      const meta = document.createElement('span');
      meta.className = 'meta';
      meta.textContent = `${s.mode}${s.mode === 'cospec' ? ` · ${s.policy}` : ''}${s.k ? ` · k=${s.k}` : ''} · ${s.generated} tokens · ${s.tok_per_s.toFixed(1)} tok/s · ${s.tokens_per_pass.toFixed(2)} tokens/pass`;
      c.el.append(meta);
      if (s.context_full) {
        // Say why the reply stopped, and what to do: the next message would not fit.
        const note = document.createElement('span');
        note.className = 'meta context-full';
        note.textContent = `The conversation has filled the models' context of ${s.ctx_len} tokens: start a new chat to go on.`;
        c.el.append(note);
      }
      c.el.dataset.text = c.text;
      state.messages.push({ role: 'assistant', content: c.text });
      state.current = null;
      setBusy(false);
      document.body.dataset.replies = String(Number(document.body.dataset.replies || 0) + 1);
      break;
    }
    case 'error': {
      if (m.message === 'NO_WEBGPU') {
        fatal('<b>This browser has no WebGPU.</b> cospec runs its kernels on your GPU through WebGPU: use Chrome or Edge 113+, Safari 26+, or Firefox with WebGPU enabled. On Linux, Chrome may need <code>--enable-unsafe-webgpu</code>.');
      } else if (m.during === 'init') {
        fatal(`<b>The GPU could not be opened.</b> ${m.message}`);
      } else if (m.during === 'load') {
        bar(m.role, 0, 'failed');
        $(`.model[data-role=${m.role}] .summary`).textContent = m.message;
        $('#load').disabled = false;
      } else {
        if (state.current) {
          state.current.el.classList.remove('cursor');
          if (!state.current.text) state.current.el.remove();
          state.current = null;
          // The message was not answered: it leaves the history and goes back to the composer
          // (unless something new was typed there meanwhile), so nothing written is lost.
          const unsent = state.messages.pop();
          if (unsent?.role === 'user' && !$('#prompt').value) $('#prompt').value = unsent.content;
        }
        // A lost GPU (a driver reset, an unplugged card) does not come back in this page.
        addMessage('error', /device was lost/.test(m.message) ? `${m.message}. Reload the page to open the GPU again.` : m.message);
        setBusy(false);
      }
      document.body.dataset.error = m.message;
      break;
    }
    case 'cache-cleared':
      $('#clear-cache').textContent = 'Cache cleared';
      break;
  }
};

// The page's controls.
$('#load').onclick = loadModels;
$('#composer').onsubmit = send;
$('#prompt').addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.shiftKey) send(e); });
$('#stop').onclick = () => worker.postMessage({ type: 'stop' });
$('#new-chat').onclick = () => {
  if (state.busy) return;
  state.messages = [];
  $('#transcript').innerHTML = '<div class="empty">New conversation.</div>';
};
$('#clear-cache').onclick = (e) => { e.preventDefault(); worker.postMessage({ type: 'clear-cache' }); };
for (const b of document.querySelectorAll('#mode button')) {
  b.onclick = () => {
    state.mode = b.dataset.mode;
    for (const o of document.querySelectorAll('#mode button')) o.classList.toggle('on', o === b);
    $('#policy').disabled = state.mode !== 'cospec';
    $('#k').disabled = state.mode === 'target-only';
  };
  if (b.dataset.mode === (params.get('mode') || 'cospec')) b.onclick();
}
$('#k').oninput = () => { $('#k-out').textContent = $('#k').value; };
$('#temperature').oninput = () => {
  const t = Number($('#temperature').value);
  $('#t-out').textContent = t === 0 ? '0 (greedy)' : t.toFixed(2);
};

if (!navigator.gpu) {
  fatal('<b>This browser has no WebGPU.</b> cospec runs its kernels on your GPU through WebGPU: use Chrome or Edge 113+, Safari 26+, or Firefox with WebGPU enabled. On Linux, Chrome may need <code>--enable-unsafe-webgpu</code>.');
  $('#adapter').textContent = 'no WebGPU';
} else {
  fillSources().then(() => worker.postMessage({ type: 'init', maxBindingBytes: Number(params.get('maxBinding') || 0), matmul: params.get('matmul') || '', weights: params.get('weights') || '', loseDeviceAt: Number(params.get('loseDeviceAt') || 0) }));
}
// Ask to keep the model cache when storage runs short (large models).
navigator.storage?.persist?.();
