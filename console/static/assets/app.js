// app.js is the console's shell: sign-in, navigation between pages (in
// the URL's fragment, so that reloads and links keep the page), and the
// shared toast and confirmation dialog.
import { h, clear, put, field, showFieldErrors } from './dom.js';
import { request, setCSRF, APIError } from './api.js';
import { flagsPage, newFlagPage } from './flags.js';
import { flagPage } from './flag.js';
import { rolloutPage, rolloutsPage } from './rollout.js';
import { auditPage } from './audit.js';

const main = document.getElementById('main');
let cleanup = null;
let session = null;

/** toast announces a message in the status region. */
export function toast(msg, kind = 'info') {
  const t = document.getElementById('toast');
  put(t, h('span', { class: 'toast-' + kind, text: msg }));
  t.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove('show'), 6000);
}

/** confirmDialog asks one question; resolves true if confirmed. */
export function confirmDialog(title, text, okLabel) {
  const d = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = okLabel;
  return new Promise((resolve) => {
    d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
    d.returnValue = '';
    d.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}

/** errorBox renders an API error for a page. */
export function errorBox(err) {
  return h('div', { class: 'alert error', role: 'alert' },
    h('strong', { text: (err instanceof APIError && err.problem.title) || 'Error' }), ' ',
    err.message);
}

const routes = [
  [/^\/?$/, () => flagsPage],
  [/^\/flags$/, () => flagsPage],
  [/^\/flags\/new$/, () => newFlagPage],
  [/^\/flags\/([^/]+)$/, () => flagPage],
  [/^\/rollouts$/, () => rolloutsPage],
  [/^\/rollouts\/(\d+)$/, () => rolloutPage],
  [/^\/audit$/, () => auditPage],
];

async function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  if (!session) return;
  const hash = location.hash.replace(/^#/, '') || '/flags';
  const [path, qs] = hash.split('?');
  const params = new URLSearchParams(qs || '');
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (path.startsWith('/' + a.dataset.nav) || (a.dataset.nav === 'flags' && path === '/')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  for (const [re, page] of routes) {
    const m = path.match(re);
    if (!m) continue;
    clear(main);
    const args = m.slice(1).map(decodeURIComponent);
    try {
      cleanup = await page()(main, args, params, { session, toast, confirmDialog, errorBox });
    } catch (err) {
      put(main, errorBox(err));
    }
    return;
  }
  put(main, h('h1', { text: 'Not found' }), h('p', {}, 'No page here. ', h('a', { href: '#/flags', text: 'See the flags.' })));
}

function signInPage(reason) {
  document.getElementById('top').hidden = true;
  const token = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true, spellcheck: 'false' });
  const form = h('form', { class: 'card signin', novalidate: true },
    h('h1', { text: 'Sign in to ramp' }),
    reason ? h('p', { class: 'alert', role: 'alert', text: reason }) : null,
    field('Admin token', token, 'An admin token: the data directory\'s admin-token file, or one made with "ramp token create --admin".'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'signin', text: 'Sign in' })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const { data } = await request('POST', '/session', { token: token.value });
      token.value = '';
      startSession(data);
    } catch (err) {
      const rest = showFieldErrors(form, err.errors);
      if (!err.errors.length || rest.length) {
        showFieldErrors(form, [{ field: 'token', message: err.message }]);
      }
      token.focus();
    }
  });
  put(main, form);
  token.focus();
}

function startSession(s) {
  session = s;
  setCSRF(s.csrfToken);
  document.getElementById('actor').textContent = 'Signed in as ' + s.actor;
  document.getElementById('top').hidden = false;
  route();
}

document.getElementById('signout').addEventListener('click', async () => {
  try { await request('DELETE', '/session'); } catch { /* signed out anyway */ }
  if (cleanup) { cleanup(); cleanup = null; }
  session = null;
  setCSRF('');
  signInPage('You are signed out.');
});

window.addEventListener('ramp:signedout', (ev) => {
  if (!session) return;
  if (cleanup) { cleanup(); cleanup = null; }
  session = null;
  signInPage((ev.detail && ev.detail.detail) || 'Your session has ended; sign in again.');
});

window.addEventListener('hashchange', () => { route(); main.focus({ preventScroll: true }); });

(async () => {
  try {
    const { data } = await request('GET', '/session');
    startSession(data);
  } catch {
    signInPage();
  }
})();
