import { request } from '../api';
import { h, mount } from '../dom';
import { newPasswordFields, PASSWORDS_DIFFER } from './account';
import { errorBox } from './common';
import { authCard } from './login';

/** The login page's card, titled, around another form. */
const card = (root: HTMLElement, title: string, ...body: (Node | string)[]) => authCard(root, h('h1', { class: 'login-title' }, title), ...body);

/** `/forgot-password`: asks for an email to be sent a link; says the same whether or not an account uses the address. */
export function forgotPasswordPage(root: HTMLElement): void {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, autofocus: true });
  const feedback = h('div', { 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', class: 'primary wide' }, 'Email me a link');
  const form = h('form', { class: 'login-form' }, h('label', {}, 'Email', email), feedback, button);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    mount(feedback);
    button.disabled = true;
    request<{ message: string }>('POST', '/auth/password-reset', { email: email.value.trim() })
      .then(
        (answer) => mount(feedback, h('div', { class: 'success', role: 'status' }, answer.message)),
        (err: unknown) => mount(feedback, errorBox(err)),
      )
      .finally(() => (button.disabled = false));
  });
  card(root, 'Forgot your password?', h('p', { class: 'muted' }, 'We email you a link to choose a new one.'), form, h('p', { class: 'small' }, h('a', { href: '/login' }, 'Back to log in')));
  // autofocus works once per document; this page is drawn without a reload.
  email.focus();
}

/**
 * `/reset-password#token=…`: sets a new password with the emailed link's token. The
 * token rides in the fragment, which no request carries; it is taken off the address
 * bar at once, so it stays out of the history.
 */
export function resetPasswordPage(root: HTMLElement): void {
  const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? '';
  if (location.hash) history.replaceState(null, '', location.pathname);
  if (!token) {
    card(root, 'Set a new password', h('p', { class: 'error' }, 'This page needs the link from the reset email.'), h('p', { class: 'small' }, h('a', { href: '/forgot-password' }, 'Ask for a link')));
    return;
  }
  const fields = newPasswordFields();
  const [password, again] = fields.map((f) => f.querySelector('input')!);
  const feedback = h('div', { 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', class: 'primary wide' }, 'Set the password');
  const form = h('form', { class: 'login-form' }, ...fields, feedback, button);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (password!.value !== again!.value) {
      mount(feedback, errorBox(new Error(PASSWORDS_DIFFER)));
      return;
    }
    mount(feedback);
    button.disabled = true;
    request('POST', '/auth/password-reset/confirm', { token, password: password!.value }).then(
      () => {
        // Every session ended, this browser's too: the link loads the page afresh, so no session is kept in it.
        const login = h('a', { href: '/login', class: 'button primary', 'data-external': 'true' }, 'Log in');
        card(root, 'Password set', h('div', { class: 'success', role: 'status' }, 'Your new password is set, and every session of the account has ended.'), h('p', {}, login));
        login.focus();
      },
      (err: unknown) => {
        button.disabled = false;
        mount(feedback, errorBox(err), h('p', { class: 'small' }, h('a', { href: '/forgot-password' }, 'Ask for a new link')));
      },
    );
  });
  card(root, 'Set a new password', form);
  password!.focus();
}
