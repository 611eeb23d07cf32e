import type { Express } from 'express';
import { guardOf, type Guard } from '../../api/auth';

/** One route of the app as the router stack has it, with the guards on its path. */
export interface AppRoute {
  method: string;
  path: string;
  guards: Guard[];
}

interface StackLayer {
  slash?: boolean;
  handle?: unknown;
  route?: { path: unknown; methods: Record<string, boolean>; stack: { handle: unknown }[] };
}

const stackOf = (handle: unknown): StackLayer[] | undefined => {
  const stack = (handle as { stack?: unknown } | null)?.stack;
  return typeof handle === 'function' && Array.isArray(stack) ? (stack as StackLayer[]) : undefined;
};

/**
 * Every route of an express 5 app, walking nested routers. Routers must be mounted
 * at the root (every route states its full path), so a path is what a client calls.
 */
export function appRoutes(app: Express): AppRoute[] {
  const routes: AppRoute[] = [];
  const walk = (stack: StackLayer[], inherited: Guard[]) => {
    const guards = [...inherited];
    for (const layer of stack) {
      if (layer.route) {
        const routeGuards = [...guards, ...layer.route.stack.map((l) => guardOf(l.handle)).filter((g): g is Guard => g !== undefined)];
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') routes.push({ method: method.toUpperCase(), path: String(layer.route.path), guards: routeGuards });
        }
        continue;
      }
      const nested = stackOf(layer.handle);
      if (nested) {
        if (!layer.slash) throw new Error('a router mounted under a path: the route matrix expects routers mounted at the root');
        walk(nested, guards);
        continue;
      }
      // A guard used as router-wide middleware protects everything after it.
      const guard = guardOf(layer.handle);
      if (guard) guards.push(guard);
    }
  };
  const root = (app as unknown as { router: { stack: StackLayer[] } }).router;
  walk(root.stack, []);
  return routes;
}
