import type { Session } from '../api';
import { h, mount } from '../dom';

export function pickerPage(root: HTMLElement, session: Session): void {
  mount(
    root,
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Workspaces'), h('p', { class: 'muted' }, `Signed in as ${session.user.email}.`))),
    session.memberships.length
      ? h(
          'ul',
          { class: 'workspaces' },
          session.memberships.map((m) =>
            h('li', {}, h('a', { href: `/w/${encodeURIComponent(m.workspaceId)}/dashboard` }, h('span', { class: 'ws-name' }, m.workspaceName), h('span', { class: 'muted small' }, m.workspaceId), h('span', { class: `badge role-${m.role}` }, m.role))),
          ),
        )
      : h('p', { class: 'empty-state' }, 'You are not a member of any workspace yet. Ask a workspace owner to add you.'),
  );
}
