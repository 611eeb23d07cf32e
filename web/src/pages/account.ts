import { request } from '../api';
import type { PageContext } from '../context';
import { h, mount } from '../dom';
import { errorBox, section } from './common';

/** passwordSchema's floor (platform/passwords.ts): said before the form is sent, checked again by the API. */
const MIN_PASSWORD = 12;

/** The signed-in person's own account: their password. */
export function accountPage(ctx: PageContext, root: HTMLElement): Promise<void> {
  const feedback = h('div', { class: 'feedback', 'aria-live': 'polite' });
  const field = (name: string, label: string, autocomplete: string) =>
    h('label', {}, label, h('input', { type: 'password', name, required: true, autocomplete, maxlength: 1024, ...(name === 'currentPassword' ? {} : { minlength: MIN_PASSWORD }) }));
  const form = h(
    'form',
    { class: 'password-change' },
    field('currentPassword', 'Current password', 'current-password'),
    field('newPassword', `New password (at least ${MIN_PASSWORD} characters)`, 'new-password'),
    field('repeatPassword', 'New password again', 'new-password'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Change password')),
  );
  const value = (name: string) => form.querySelector<HTMLInputElement>(`input[name=${name}]`)!.value;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    mount(feedback);
    if (value('newPassword') !== value('repeatPassword')) {
      mount(feedback, errorBox(new Error('the two new passwords differ; type the same one twice')));
      return;
    }
    request('POST', '/auth/password', { currentPassword: value('currentPassword'), newPassword: value('newPassword') }).then(
      () => {
        form.reset();
        mount(feedback, h('div', { class: 'success', role: 'status' }, 'Password changed. Your other sessions have ended; this one goes on.'));
      },
      (err: unknown) => mount(feedback, errorBox(err)),
    );
  });
  mount(
    root,
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Account'), h('p', { class: 'muted' }, `Signed in as ${ctx.session.user.email}.`))),
    section(
      'Password',
      h('p', { class: 'muted small' }, 'A new account starts with a one-time password from an owner: replace it with one of your own. Changing it signs you out everywhere else.'),
      form,
      feedback,
    ),
  );
  return Promise.resolve();
}
