import { ApiError, request, type Session } from '../api';
import { h, mount } from '../dom';

export function loginPage(root: HTMLElement, onLogin: (session: Session) => void): void {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const error = h('div', { 'aria-live': 'assertive' });
  const button = h('button', { type: 'submit', class: 'primary wide' }, 'Log in');
  const form = h('form', { class: 'login-form' }, h('label', {}, 'Email', email), h('label', {}, 'Password', password), error, button);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    mount(error);
    button.disabled = true;
    request<Session>('POST', '/auth/login', { email: email.value, password: password.value }, { quietUnauthorised: true })
      .then(onLogin, (err: unknown) => {
        const message = err instanceof ApiError && err.status === 401 ? 'Wrong email or password.' : err instanceof Error ? err.message : String(err);
        mount(error, h('div', { class: 'error', role: 'alert' }, message));
        password.value = '';
        password.focus();
      })
      .finally(() => (button.disabled = false));
  });
  authCard(root, h('p', { class: 'muted' }, 'Revenue operations for your Stripe account.'), form, h('p', { class: 'small forgot' }, h('a', { href: '/forgot-password' }, 'Forgot your password?')));
}

/** The card the pages without a session share (log in, forgotten password): the brand, then `body`. */
export function authCard(root: HTMLElement, ...body: (Node | string)[]): void {
  mount(root, h('main', { class: 'login' }, h('div', { class: 'login-card' }, h('div', { class: 'brand big' }, h('span', { class: 'logo' }, 'W'), 'Wysera'), ...body)));
}
