/** Stripe's error body: `{ error: { type, code?, message, param?, doc_url? } }`. */
export type StripeErrorType = 'api_error' | 'card_error' | 'idempotency_error' | 'invalid_request_error';

export interface StripeErrorBody {
  error: {
    type: StripeErrorType;
    message: string;
    code?: string;
    param?: string;
    doc_url?: string;
  };
}

export class StripeHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.error.message);
  }
}

function docUrl(code: string): string {
  return `https://docs.stripe.com/error-codes/${code.replace(/_/g, '-')}`;
}

export function invalidRequest(message: string, opts: { code?: string; param?: string; status?: number } = {}): StripeHttpError {
  return new StripeHttpError(opts.status ?? 400, {
    error: {
      type: 'invalid_request_error',
      message,
      ...(opts.code ? { code: opts.code, doc_url: docUrl(opts.code) } : {}),
      ...(opts.param ? { param: opts.param } : {}),
    },
  });
}

export function resourceMissing(kind: string, id: string): StripeHttpError {
  return invalidRequest(`No such ${kind}: '${id}'`, { code: 'resource_missing', param: 'id', status: 404 });
}

export function unknownParameter(param: string): StripeHttpError {
  return invalidRequest(`Received unknown parameter: ${param}`, { code: 'parameter_unknown', param });
}

export function missingParameter(param: string): StripeHttpError {
  return invalidRequest(`Missing required param: ${param}.`, { code: 'parameter_missing', param });
}

export function unrecognizedUrl(method: string, path: string): StripeHttpError {
  return invalidRequest(`Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`, { status: 404 });
}

export function rateLimited(): StripeHttpError {
  return new StripeHttpError(
    429,
    {
      error: {
        type: 'invalid_request_error',
        code: 'rate_limit',
        doc_url: docUrl('rate_limit'),
        message: 'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.',
      },
    },
    // stripe-node retries when this header says so (it reads no Retry-After).
    { 'Stripe-Should-Retry': 'true' },
  );
}

export function apiError(): StripeHttpError {
  return new StripeHttpError(500, { error: { type: 'api_error', message: 'An unknown error occurred' } });
}

/** Masks a key the way Stripe's messages do: prefix, stars, last characters. */
export function maskKey(key: string, visible: number): string {
  const m = /^(sk|rk|pk)_(test|live)_/.exec(key);
  const prefix = m ? m[0] : '';
  const rest = key.slice(prefix.length);
  if (rest.length <= visible) return prefix + '*'.repeat(rest.length);
  return prefix + '*'.repeat(rest.length - visible) + rest.slice(-visible);
}

export function invalidApiKey(key: string): StripeHttpError {
  return new StripeHttpError(401, { error: { type: 'invalid_request_error', message: `Invalid API Key provided: ${maskKey(key, 4)}` } });
}

export function missingApiKey(): StripeHttpError {
  return new StripeHttpError(401, {
    error: {
      type: 'invalid_request_error',
      message:
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
    },
  });
}

export function permissionDenied(key: string, account: string, permission: string): StripeHttpError {
  return new StripeHttpError(403, {
    error: {
      type: 'invalid_request_error',
      message: `The provided key '${maskKey(key, 6)}' does not have the required permissions for this endpoint on account '${account}'. Having the '${permission}' permission would allow this request to continue.`,
    },
  });
}

export function accountInvalid(key: string, account: string): StripeHttpError {
  return new StripeHttpError(403, {
    error: {
      type: 'invalid_request_error',
      code: 'account_invalid',
      doc_url: docUrl('account_invalid'),
      message: `The provided key '${maskKey(key, 4)}' does not have access to account '${account}' (or that account does not exist). Application access may have been revoked.`,
    },
  });
}
