import express, { Router } from 'express';
import { describe, expect, it } from 'vitest';
import { requireOperator, requireWorkspaceRole } from '../../api/auth';
import { appRoutes } from './routes';

/** The route walker the matrix relies on: it must see nested routers and tell an unguarded route. */
describe('appRoutes', () => {
  it('lists routes of nested routers with their guards, and an unguarded route with none', () => {
    const inner = Router();
    inner.get('/workspaces/:workspaceId/guarded', requireWorkspaceRole('member'), (_req, res) => void res.end());
    inner.post('/workspaces/:workspaceId/forgotten', (_req, res) => void res.end());
    const outer = Router();
    outer.use(inner);
    outer.put('/ops', requireOperator, (_req, res) => void res.end());
    const app = express();
    app.use(outer);
    expect(appRoutes(app)).toEqual([
      { method: 'GET', path: '/workspaces/:workspaceId/guarded', guards: [{ kind: 'workspace', minimum: 'member' }] },
      { method: 'POST', path: '/workspaces/:workspaceId/forgotten', guards: [] },
      { method: 'PUT', path: '/ops', guards: [{ kind: 'operator' }] },
    ]);
  });

  it('counts a router-wide guard for the routes after it, and refuses routers mounted under a path', () => {
    const router = Router();
    router.use(requireWorkspaceRole('owner'));
    router.get('/workspaces/:workspaceId/x', (_req, res) => void res.end());
    const app = express();
    app.use(router);
    expect(appRoutes(app)[0]?.guards).toEqual([{ kind: 'workspace', minimum: 'owner' }]);
    const mounted = express();
    mounted.use('/api', router);
    expect(() => appRoutes(mounted)).toThrow(/mounted under a path/);
  });
});
