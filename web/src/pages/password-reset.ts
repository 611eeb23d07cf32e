import { request } from '../api';
import { h, mount } from '../dom';
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
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'new-password', required: true, autofocus: true });
  const again = h('input', { type: 'password', name: 'again', autocomplete: 'new-password', required: true });
  const feedback = h('div', { 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', class: 'primary wide' }, 'Set the password');
  const form = h('form', { class: 'login-form' }, h('label', {}, 'New password', password), h('label', {}, 'Once more', again), feedback, button);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (password.value !== again.value) {
      mount(feedback, h('div', { class: 'error', role: 'alert' }, 'The two passwords differ.'));
      return;
    }
    mount(feedback);
    button.disabled = true;
    request('POST', '/auth/password-reset/confirm', { token, password: password.value }).then(
      () => card(root, 'Password set', h('div', { class: 'success', role: 'status' }, 'Your new password is set, and every session of the account has ended.'), h('p', {}, h('a', { href: '/login', class: 'button primary' }, 'Log in'))),
      (err: unknown) => {
        button.disabled = false;
        mount(feedback, errorBox(err), h('p', { class: 'small' }, h('a', { href: '/forgot-password' }, 'Ask for a new link')));
      },
    );
  });
  card(root, 'Set a new password', form);
}
