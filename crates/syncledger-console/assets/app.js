// The console's shell: sign-in, the header, and the router between pages (`#/find`,
// `#/entity/<id>`, `#/entity/<id>/event/<n>`, `#/ops`, `#/live`, `#/whatif`, `#/conflicts`). Each page module exports `render(main, ctx, args)`, which
// fills `main` and may return a function that stops what the page started (polling, a socket).

import { ApiError, gql, session } from './api.js';
import { clear, field, h, notice, pageHeading } from './dom.js';
import * as conflicts from './conflicts.js';
import * as entity from './entity.js';
import * as find from './find.js';
import * as live from './live.js';
import * as ops from './ops.js';
import * as whatif from './whatif.js';

const VIEWER = `{ viewer { admin tenants { id systems } entityTypes { name matchKeys systems } } }`;
const TENANT_KEY = 'syncledger.console.tenant';
const PAGES = { find, entity, ops, live, whatif };
// Issue 28: open reviews and decided conflicts.
PAGES.conflicts = conflicts;

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
let ctx = null;
let stopPage = null;
let shown = null;

/** What every page is given: who signed in, and the tenant being looked at. */
function context(viewer) {
  const tenants = viewer.tenants.map((t) => t.id);
  const saved = sessionStorage.getItem(TENANT_KEY);
  return {
    viewer,
    admin: viewer.admin,
    tenant: tenants.includes(saved) ? saved : tenants[0],
    systemsOf(tenant) {
      const found = viewer.tenants.find((t) => t.id === tenant);
      return found ? found.systems : [];
    },
  };
}

function signInPage(message) {
  nav.hidden = true;
  who.hidden = true;
  clear(main);
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false' });
  const status = h('div', { 'aria-live': 'polite' }, message ? notice(message, 'error') : null);
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'page-title' },
    field('Access token', input, 'A tenant\u2019s api_token, or the admin token. Kept in this tab only (sessionStorage).'),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    session.set(input.value.trim());
    clear(status).append(notice('Checking the token\u2026'));
    await start();
  });
  main.append(
    pageHeading('Sign in', 'The console reads the ledger through the GraphQL API with the token you give: a tenant\u2019s token sees that tenant only; the admin token sees every tenant and may retry, replay and rebuild.'),
    form);
  input.focus();
}

function header() {
  nav.hidden = false;
  who.hidden = false;
  clear(who);
  const role = ctx.admin ? 'admin' : `tenant ${ctx.tenant}`;
  let picker = null;
  if (ctx.viewer.tenants.length > 1) {
    const select = h('select', { id: 'tenant-picker' },
      ctx.viewer.tenants.map((t) => h('option', { value: t.id, selected: t.id === ctx.tenant }, t.id)));
    select.addEventListener('change', () => {
      ctx.tenant = select.value;
      sessionStorage.setItem(TENANT_KEY, ctx.tenant);
      shown = null;
      route();
    });
    picker = h('span', { class: 'picker' }, h('label', { for: 'tenant-picker' }, 'Tenant'), select);
  }
  const out = h('button', { type: 'button', class: 'quiet', id: 'sign-out' }, 'Sign out');
  out.addEventListener('click', () => {
    session.clear();
    sessionStorage.removeItem(TENANT_KEY);
    ctx = null;
    shown = null;
    location.hash = '#/find';
    signInPage();
  });
  who.append(picker || '', h('span', { class: 'role', id: 'signed-in-as' }, `Signed in as ${role}`), out);
}

async function start() {
  if (!session.token) {
    signInPage();
    return;
  }
  try {
    const data = await gql(VIEWER);
    ctx = context(data.viewer);
  } catch (err) {
    const refused = err instanceof ApiError && err.code === 'UNAUTHENTICATED';
    if (refused) session.clear();
    signInPage(refused ? 'That token was not accepted.' : `The console could not start: ${err.message}`);
    return;
  }
  header();
  shown = null;
  route();
}

function route() {
  if (!ctx) return;
  // A hash that is not a route (`#main`, from the skip link) moves focus, not the page.
  if (shown && location.hash && !location.hash.startsWith('#/')) return;
  const [name, ...args] = (location.hash.replace(/^#\/?/, '') || 'find').split('/');
  const page = PAGES[name] || find;
  // Another view of the page already shown (an event of the same entity): no new render.
  if (shown && shown.page === page && page.revisit && page.revisit(args.map(decodeURIComponent))) return;
  shown = { page };
  if (stopPage) {
    stopPage();
    stopPage = null;
  }
  for (const link of nav.querySelectorAll('a')) {
    const current = link.dataset.page === name || (name === 'entity' && link.dataset.page === 'find');
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  clear(main);
  document.title = `${name === 'entity' ? 'Entity' : (nav.querySelector(`[data-page="${name}"]`) || { textContent: 'Find' }).textContent} \u00b7 syncledger audit console`;
  const stop = page.render(main, ctx, args.map(decodeURIComponent));
  stopPage = typeof stop === 'function' ? stop : null;
  const title = document.getElementById('page-title');
  if (title) title.focus({ preventScroll: true });
}

window.addEventListener('hashchange', route);
start();
