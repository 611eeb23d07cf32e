import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout; one logger per process, children per component. */
export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['*.secret', '*.apiKey', '*.password', 'req.headers.authorization', 'req.headers["stripe-signature"]'], censor: '[redacted]' },
  });
}
