import { request } from '../api';
import type { PageContext } from '../context';
import { h, mount } from '../dom';
import { errorBox, section } from './common';

/** passwordSchema's floor (platform/passwords.ts): said before the form is sent, checked again by the API. */
const MIN_PASSWORD = 12;

/** Said when the new password and its repetition differ (here and on the reset page). */
export const PASSWORDS_DIFFER = 'the two new passwords differ; type the same one twice';

/** A password field, labelled; a new password's says and enforces the floor. */
export function passwordField(name: string, label: string, autocomplete: 'current-password' | 'new-password'): HTMLLabelElement {
  return h('label', {}, label, h('input', { type: 'password', name, required: true, autocomplete, maxlength: 1024, ...(autocomplete === 'new-password' ? { minlength: MIN_PASSWORD } : {}) }));
}

/** The new password and its repetition, as both pages ask for them. */
export const newPasswordFields = () => [passwordField('newPassword', `New password (at least ${MIN_PASSWORD} characters)`, 'new-password'), passwordField('repeatPassword', 'New password again', 'new-password')];

/** The signed-in person's own account: their password. */
export function accountPage(ctx: PageContext, root: HTMLElement): Promise<void> {
  const feedback = h('div', { class: 'feedback', 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'password-change' },
    passwordField('currentPassword', 'Current password', 'current-password'),
    ...newPasswordFields(),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Change password')),
  );
  const value = (name: string) => form.querySelector<HTMLInputElement>(`input[name=${name}]`)!.value;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    mount(feedback);
    if (value('newPassword') !== value('repeatPassword')) {
      mount(feedback, errorBox(new Error(PASSWORDS_DIFFER)));
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
