import { post, request, setSession, whenUnauthorised, type Session } from './api';
import type { PageContext } from './context';
import { h, mount } from './dom';
import { customersPage } from './pages/customers';
import { accountPage } from './pages/account';
import { auditPage } from './pages/audit';
import { errorBox, loading } from './pages/common';
import { dashboardPage } from './pages/dashboard';
import { draftsPage } from './pages/drafts';
import { emailsPage } from './pages/emails';
import { loginPage } from './pages/login';
import { forgotPasswordPage, resetPasswordPage } from './pages/password-reset';
import { membersPage } from './pages/members';
import { pickerPage } from './pages/picker';
import { playsPage } from './pages/plays';
import { recoveryPage } from './pages/recovery';
import { stripePage } from './pages/stripe';
import { webhooksPage } from './pages/webhooks';
import { canAudit, canConfigure, loadVisibility, type Visibility } from './redaction';

/**
 * The single page: routes on the path (/login, /, /w/<workspace>/<page>), keeps the
 * session in memory (the cookie is HttpOnly; /auth/session tells who is in) and
 * renders each page from the JSON API.
 */

const app = document.getElementById('app')!;
let session: Session | null = null;
const visibilities = new Map<string, Visibility>();

/** `show`: for which roles the page has a tab; `tab: false`: reached from the header instead. */
const PAGES: Record<string, { title: string; render: (ctx: PageContext, root: HTMLElement) => Promise<void>; show?: (role: string) => boolean; tab?: false }> = {
  dashboard: { title: 'Dashboard', render: dashboardPage },
  customers: { title: 'Customers', render: customersPage },
  drafts: { title: 'Drafts', render: draftsPage },
  recovery: { title: 'Recovery', render: recoveryPage },
  plays: { title: 'Plays', render: playsPage },
  emails: { title: 'Emails', render: emailsPage },
  audit: { title: 'Audit log', render: auditPage, show: canAudit },
  members: { title: 'Members', render: membersPage, show: canConfigure },
  stripe: { title: 'Stripe', render: stripePage },
  webhooks: { title: 'Webhooks', render: webhooksPage, show: canConfigure },
  account: { title: 'Account', render: accountPage, tab: false },
};

function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  void render();
}

async function logout(): Promise<void> {
  try {
    await post('/auth/logout');
  } finally {
    session = null;
    setSession(null);
    visibilities.clear();
    navigate('/login', true);
  }
}

function shell(content: HTMLElement, workspace?: { id: string; name: string; role: string; page: string }): HTMLElement {
  return h(
    'div',
    { class: 'shell' },
    h(
      'header',
      { class: 'top' },
      h('a', { href: '/', class: 'brand' }, h('span', { class: 'logo' }, 'W'), 'Wysera'),
      workspace
        ? h(
            'nav',
            { class: 'main-nav' },
            h('a', { href: '/', class: 'ws', title: 'Switch workspace' }, workspace.name, h('span', { class: 'caret' }, '▾')),
            Object.entries(PAGES)
              .filter(([, p]) => p.tab !== false && (!p.show || p.show(workspace.role)))
              .map(([key, p]) => h('a', { href: `/w/${encodeURIComponent(workspace.id)}/${key}`, class: key === workspace.page ? 'active' : '', 'aria-current': key === workspace.page ? 'page' : null, 'data-page': key }, p.title)),
          )
        : h('span', { class: 'spacer' }),
      h(
        'div',
        { class: 'user' },
        workspace
          ? h(
              'a',
              { class: 'email', href: `/w/${encodeURIComponent(workspace.id)}/account`, title: 'Your account: change your password', 'aria-current': workspace.page === 'account' ? 'page' : null, 'data-page': 'account' },
              session?.user.email ?? '',
            )
          : h('span', { class: 'email' }, session?.user.email ?? ''),
        workspace ? h('span', { class: `badge role-${workspace.role}` }, workspace.role) : null,
        h('button', { type: 'button', class: 'ghost', 'data-testid': 'logout', onclick: () => void logout() }, 'Log out'),
      ),
    ),
    h('main', { class: 'content' }, content),
  );
}

/** Renders the current path; body[data-ready] marks a finished page (the browser tests wait for it). */
let generation = 0;
async function render(): Promise<void> {
  // A render that navigates on (a redirect) leaves the marking to the newer one.
  const mine = ++generation;
  delete document.body.dataset.ready;
  try {
    await renderPath();
  } finally {
    if (mine === generation) document.body.dataset.ready = 'true';
  }
}

async function renderPath(): Promise<void> {
  const url = new URL(location.href);
  const path = url.pathname;
  if (path === '/login') {
    if (session) return navigate('/', true);
    document.title = 'Log in · Wysera';
    return loginPage(app, (s) => {
      session = s;
      setSession(s);
      const next = url.searchParams.get('next');
      // Only a path of this site (not //host or /\host, which browsers read as another origin).
      navigate(next && /^\/(?![/\\])/.test(next) ? next : '/', true);
    });
  }
  // Reached without a session, from the login page or a reset email.
  if (path === '/forgot-password') {
    document.title = 'Forgot your password · Wysera';
    return forgotPasswordPage(app);
  }
  if (path === '/reset-password') {
    document.title = 'Set a new password · Wysera';
    return resetPasswordPage(app);
  }
  if (!session) return navigate(`/login${path === '/' ? '' : `?next=${encodeURIComponent(path + url.search)}`}`, true);

  const match = /^\/w\/([^/]+)\/(.+)$/.exec(path);
  if (!match) {
    if (session.memberships.length === 1) return navigate(`/w/${encodeURIComponent(session.memberships[0]!.workspaceId)}/dashboard`, true);
    document.title = 'Workspaces · Wysera';
    const content = h('div', {});
    pickerPage(content, session);
    return mount(app, shell(content));
  }
  const workspaceId = decodeURIComponent(match[1]!);
  const rest = match[2]!.split('/').map(decodeURIComponent);
  const membership = session.memberships.find((m) => m.workspaceId === workspaceId);
  const content = h('div', {});
  if (!membership) {
    mount(content, h('h1', {}, 'No access'), h('p', {}, `You are not a member of workspace ${workspaceId}. `, h('a', { href: '/' }, 'Choose a workspace')));
    return mount(app, shell(content));
  }
  const pageKey = rest[0] ?? 'dashboard';
  const page = PAGES[pageKey];
  mount(app, shell(content, { id: workspaceId, name: membership.workspaceName, role: membership.role, page: pageKey }));
  if (!page) {
    mount(content, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: `/w/${encodeURIComponent(workspaceId)}/dashboard` }, 'Go to the dashboard')));
    return;
  }
  document.title = `${page.title} · ${membership.workspaceName} · Wysera`;
  mount(content, loading());
  try {
    let visibility = visibilities.get(workspaceId);
    if (!visibility) {
      visibility = await loadVisibility(workspaceId, membership.role);
      visibilities.set(workspaceId, visibility);
    }
    const base = encodeURIComponent(workspaceId);
    await page.render(
      { session, membership, visibility, rest, query: url.searchParams, navigate: (p) => navigate(p), apiBase: `/workspaces/${base}`, pageBase: `/w/${base}` },
      content,
    );
  } catch (err) {
    mount(content, errorBox(err));
  }
}

// Links inside the app move without reloading; downloads and other origins do not.
document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element | null)?.closest('a');
  if (!a || a.hasAttribute('download') || a.dataset.external || a.target) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', () => void render());

whenUnauthorised(() => {
  if (!session) return;
  session = null;
  setSession(null);
  navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, true);
});

async function boot(): Promise<void> {
  try {
    session = await request<Session>('GET', '/auth/session', undefined, { quietUnauthorised: true });
    setSession(session);
  } catch {
    session = null;
  }
  await render();
}

void boot().catch((err: unknown) => mount(app, errorBox(err)));
