/**
 * The JSON API under the browser's session: the cookie travels by itself
 * (same-origin), and every write carries the session's CSRF token.
 */

export interface Membership {
  workspaceId: string;
  workspaceName: string;
  role: string;
}

export interface Session {
  user: { id: string; email: string };
  memberships: Membership[];
  csrfToken: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;
let onUnauthorised: () => void = () => undefined;

export function setSession(session: Session | null): void {
  csrfToken = session?.csrfToken ?? null;
}

/** What to do when the session has ended (expired, logged out elsewhere). */
export function whenUnauthorised(handler: () => void): void {
  onUnauthorised = handler;
}

function messageOf(status: number, body: unknown): string {
  const error = (body as { error?: { message?: unknown } } | null)?.error;
  if (error && typeof error.message === 'string') return error.message;
  return `the server answered ${status}`;
}

export async function request<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, opts: { quietUnauthorised?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch {
    throw new ApiError(0, 'Wysera cannot be reached; check your connection and try again');
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? (JSON.parse(text) as unknown) : null;
  } catch {
    parsed = null;
  }
  if (!res.ok) {
    if (res.status === 401 && !opts.quietUnauthorised) onUnauthorised();
    throw new ApiError(res.status, messageOf(res.status, parsed));
  }
  return parsed as T;
}

export const get = <T>(path: string) => request<T>('GET', path);
export const post = <T>(path: string, body: unknown = {}) => request<T>('POST', path, body);
