import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { Router, type Response } from 'express';
import type { Logger } from '../platform/logger';

/** The browser UI's files, as served: one page, one script, one stylesheet. */
export interface WebBundle {
  html: string;
  js: string;
  css: string;
}

/** web/ next to api/ when run from source, or next to dist/ in the image. */
export function webDir(): string {
  const candidates = [path.resolve(__dirname, '../web'), path.resolve(__dirname, '../../web')];
  const found = candidates.find((dir) => existsSync(path.join(dir, 'src', 'main.ts')));
  if (!found) throw new Error(`the web UI's sources are missing (looked in ${candidates.join(', ')})`);
  return found;
}

/**
 * Bundles web/src/main.ts and web/src/app.css in memory. Building at start-up keeps
 * the repository free of generated files and the served UI always in step with the
 * API it calls.
 */
export async function buildWeb(dir: string = webDir()): Promise<WebBundle> {
  const result = await build({
    entryPoints: [path.join(dir, 'src', 'main.ts'), path.join(dir, 'src', 'app.css')],
    bundle: true,
    write: false,
    outdir: path.join(dir, 'out'),
    format: 'iife',
    target: 'es2022',
    minify: true,
    tsconfig: path.join(dir, 'tsconfig.json'),
    logLevel: 'silent',
  });
  const output = (ext: string) => {
    const file = result.outputFiles.find((f) => f.path.endsWith(ext));
    if (!file) throw new Error(`the web build produced no ${ext} file`);
    return file.text;
  };
  return { html: await readFile(path.join(dir, 'index.html'), 'utf8'), js: output('.js'), css: output('.css') };
}

let shared: Promise<WebBundle> | undefined;

/** One build per process: every app made in it (tests make many) serves the same files. */
function sharedBuild(log: Logger): Promise<WebBundle> {
  if (!shared) {
    shared = buildWeb();
    shared.then(
      () => log.info('web UI built'),
      (err: unknown) => log.error({ err }, 'web UI build failed; its routes answer 500'),
    );
  }
  return shared;
}

/**
 * Serves the UI: the page for `/` and the client-side routes, and the bundle under
 * /assets. These routes are public (they hold no data); every figure the pages show
 * comes from the JSON API under the caller's session, guarded and redacted there.
 * The build starts when the router is made; requests wait for it.
 */
export function webRouter({ log }: { log: Logger }): Router {
  const router = Router();
  const built = sharedBuild(log);

  const send = (res: Response, type: string, pick: (b: WebBundle) => string) =>
    built.then((b) => {
      // The page always revalidates; the assets use their ETag, so a restart's new build is picked up.
      res.set('cache-control', 'no-cache').type(type).send(pick(b));
    });

  const page = async (_req: unknown, res: Response) => send(res, 'html', (b) => b.html);
  router.get('/', page);
  router.get('/login', page);
  router.get('/forgot-password', page);
  router.get('/reset-password', page);
  router.get('/w/:workspaceId/*page', page);
  router.get('/assets/app.js', async (_req, res) => send(res, 'js', (b) => b.js));
  router.get('/assets/app.css', async (_req, res) => send(res, 'css', (b) => b.css));
  return router;
}
