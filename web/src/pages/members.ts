import { get, request } from '../api';
import type { PageContext } from '../context';
import { h, mount } from '../dom';
import { when } from '../format';
import { canConfigure } from '../redaction';
import { actorLabel, confirmStep, errorBox, loading, oneTimeSecret, section } from './common';

interface Member {
  userId: string;
  email: string;
  role: string;
  addedBy: string;
  addedAt: string;
}

/** The roles of domain/roles.ts, lowest first (the bundle carries no server code). */
const ROLES = ['viewer', 'member', 'finance', 'owner'] as const;

interface ApiTokenView {
  id: string;
  role: string;
  name: string;
  createdBy: string;
  createdByName: string;
  createdAt: string;
  revokedAt: string | null;
}

/** What the page says after a change: a message, and once only the password of a new account or a new API token. */
interface Notice {
  message: string;
  password?: string;
  token?: string;
}

const roleSelect = (name: string, selected: string) =>
  h(
    'select',
    { name },
    ROLES.map((r) => h('option', { value: r, selected: r === selected }, r)),
  );

/** The people of the workspace and their roles: owners add, re-role and remove them. */
export async function membersPage(ctx: PageContext, root: HTMLElement, notice?: Notice): Promise<void> {
  if (!canConfigure(ctx.visibility.role)) {
    mount(root, h('h1', {}, 'Members'), h('p', { class: 'empty-state' }, `Only owners manage members; your role is ${ctx.visibility.role}.`));
    return;
  }
  mount(root, loading());
  const path = `${ctx.apiBase}/members`;
  let members: Member[];
  let tokens: ApiTokenView[];
  try {
    [members, tokens] = await Promise.all([get<{ members: Member[] }>(path).then((r) => r.members), get<{ tokens: ApiTokenView[] }>(`${ctx.apiBase}/tokens`).then((r) => r.tokens)]);
  } catch (err) {
    mount(root, errorBox(err));
    return;
  }
  const self = ctx.session.user.id;
  const feedback = h(
    'div',
    { class: 'feedback', 'aria-live': 'polite' },
    notice ? h('div', { class: 'success', role: 'status' }, notice.message) : null,
    notice?.password
      ? oneTimeSecret(
          'One-time password for the new account:',
          'one-time-password',
          notice.password,
          'It is shown only this once and stored nowhere readable. Pass it on over a channel other than the one that carries the email address (in person, a phone call, a password manager share), never in the same message.',
        )
      : null,
    notice?.token
      ? oneTimeSecret('The new API token:', 'one-time-token', notice.token, 'It is shown only this once and stored only as a hash: put it where the integration keeps its secrets, and send it as Authorization: Bearer <token>.')
      : null,
  );

  // Any change to the caller's own membership changes what the session may do: reload it all.
  const after = (userId: string, message: string) => {
    if (userId === self) location.assign(`${ctx.pageBase}/dashboard`);
    else void membersPage(ctx, root, { message });
  };
  const fail = (err: unknown) => mount(feedback, errorBox(err));

  const email = h('input', { type: 'email', name: 'email', required: true, maxlength: 320, placeholder: 'name@company.com' });
  const newRole = roleSelect('role', 'viewer');
  const add = h('form', { class: 'range add-member' }, h('label', {}, 'Email', email), h('label', {}, 'Role', newRole), h('button', { type: 'submit', class: 'primary' }, 'Add member'));
  add.addEventListener('submit', (e) => {
    e.preventDefault();
    mount(feedback);
    request<{ member: Member; password?: string }>('POST', path, { email: email.value.trim(), role: newRole.value }).then(
      ({ member, password }) =>
        membersPage(ctx, root, {
          message: `Added ${member.email} as ${member.role}${password ? ': a new account was created.' : ' (an existing account, with its own password).'}`,
          ...(password ? { password } : {}),
        }),
      fail,
    );
  });

  const row = (m: Member) => {
    const role = roleSelect(`role-${m.userId}`, m.role);
    const change = h('button', { type: 'button', disabled: true }, 'Change role');
    role.addEventListener('change', () => (change.disabled = role.value === m.role));
    change.addEventListener('click', () => {
      mount(feedback);
      request<{ member: Member }>('PATCH', `${path}/${encodeURIComponent(m.userId)}`, { role: role.value }).then((r) => after(m.userId, `${m.email} is now ${r.member.role}.`), fail);
    });
    const [remove, confirm] = confirmStep({
      label: 'Remove',
      question: `Remove ${m.email}${m.userId === self ? ' (you)' : ''}?`,
      confirm: 'Remove member',
      onConfirm: () => {
        mount(feedback);
        return request<{ removed: Member }>('DELETE', `${path}/${encodeURIComponent(m.userId)}`).then(() => after(m.userId, `Removed ${m.email} from the workspace.`), fail);
      },
    });
    return h(
      'tr',
      { 'data-user': m.userId },
      h('td', {}, m.email, m.userId === self ? h('span', { class: 'muted' }, ' (you)') : null),
      h('td', {}, h('div', { class: 'role-edit' }, role, change)),
      h('td', { class: 'nowrap' }, when(m.addedAt)),
      h('td', {}, h('div', { class: 'row-actions' }, remove, confirm)),
    );
  };

  const tokenName = h('input', { type: 'text', name: 'tokenName', required: true, maxlength: 100, placeholder: 'what uses it, e.g. BI export' });
  const tokenRole = roleSelect('tokenRole', 'viewer');
  const newToken = h('form', { class: 'range add-token' }, h('label', {}, 'Name', tokenName), h('label', {}, 'Role', tokenRole), h('button', { type: 'submit', class: 'primary' }, 'Create token'));
  newToken.addEventListener('submit', (e) => {
    e.preventDefault();
    mount(feedback);
    request<ApiTokenView & { token: string }>('POST', `${ctx.apiBase}/tokens`, { name: tokenName.value.trim(), role: tokenRole.value }).then(
      (created) => membersPage(ctx, root, { message: `Created the API token "${created.name}" (${created.role}).`, token: created.token }),
      fail,
    );
  });
  const tokenRow = (t: ApiTokenView) => {
    const [revoke, confirm] = confirmStep({
      label: 'Revoke',
      question: `Revoke "${t.name}"? What uses it is refused from then on.`,
      confirm: 'Revoke token',
      onConfirm: () => {
        mount(feedback);
        return request('DELETE', `${ctx.apiBase}/tokens/${encodeURIComponent(t.id)}`).then(() => membersPage(ctx, root, { message: `Revoked the API token "${t.name}".` }), fail);
      },
    });
    return h(
      'tr',
      { 'data-token': t.id, class: t.revokedAt ? 'revoked' : '' },
      h('td', {}, t.name),
      h('td', {}, t.role),
      h('td', { class: 'nowrap' }, `${when(t.createdAt)} by ${actorLabel(ctx, t.createdBy, t.createdByName)}`),
      h('td', {}, t.revokedAt ? `revoked ${when(t.revokedAt)}` : h('div', { class: 'row-actions' }, revoke, confirm)),
    );
  };
  const live = tokens.filter((t) => !t.revokedAt).length;

  mount(
    root,
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Members'), h('p', { class: 'muted' }, 'Who can open this workspace and with which role. Every change is in the audit log; a workspace always keeps an owner.'))),
    feedback,
    section('Add a member', add, h('p', { class: 'muted small' }, 'An email without an account gets one, with a password shown here once.')),
    section(
      `People (${members.length})`,
      h(
        'table',
        { class: 'data members' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Email'), h('th', {}, 'Role'), h('th', {}, 'Since'), h('th', {}, ''))),
        h('tbody', {}, members.map(row)),
      ),
    ),
    section(
      `API tokens (${live} live)`,
      h('p', { class: 'muted small' }, 'For integrations and the CLI: a token acts in this workspace with its role, as a member would.'),
      newToken,
      tokens.length
        ? h(
            'table',
            { class: 'data api-tokens' },
            h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Role'), h('th', {}, 'Created'), h('th', {}, ''))),
            h('tbody', {}, [...tokens].reverse().map(tokenRow)),
          )
        : h('p', { class: 'empty-state' }, 'No API token yet.'),
    ),
  );
}
