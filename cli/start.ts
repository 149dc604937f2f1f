// `npm start`: everything on one machine. Starts longhaul-server (unless TEMPORAL_ADDRESS points elsewhere) with
// its database under the data directory, then a worker and the HTTP API, each as a child process; Ctrl-C stops
// them all (API and worker first, so in-flight activities are handed back). A restart resumes every unfinished
// job from the database.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, packageRoot } from '../config/load';
import { waitForPort } from './ports';

interface Part {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

function startPart(name: string, args: string[], env: NodeJS.ProcessEnv): Part {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'], env });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { name, child, exited };
}

/** Resolves a compiled entry point, or runs the TypeScript source through tsx when not built (or when
 * LONGHAUL_FROM_SOURCE is set, as tests do). */
function entry(rel: string): string[] {
  const root = packageRoot();
  const built = path.join(root, 'dist', `${rel}.js`);
  if (fs.existsSync(built) && !process.env.LONGHAUL_FROM_SOURCE) return [built];
  return ['--import', 'tsx', path.join(root, `${rel}.ts`)];
}

export async function start(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = loadConfig({ env });
  const parts: Part[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    // API and worker first (the worker finishes or hands back its activities), then the server.
    for (const p of [...parts].reverse()) {
      if (p.child.exitCode === null) p.child.kill('SIGTERM');
      await p.exited;
    }
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  const childEnv: NodeJS.ProcessEnv = { ...env, LONGHAUL_DATA_DIR: config.dataDir, LONGHAUL_CONFIG: config.file };
  if (!env.TEMPORAL_ADDRESS) {
    const port = Number(env.LONGHAUL_SERVER_PORT ?? 7233);
    fs.mkdirSync(config.dataDir, { recursive: true });
    const db = path.join(config.dataDir, 'temporal.db');
    const server = startPart(
      'longhaul-server',
      [
        path.join(packageRoot(), 'bin', 'longhaul-server'),
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--db-filename',
        db,
      ],
      childEnv,
    );
    parts.push(server);
    await waitForPort({ port, child: server.child, what: server.name });
    childEnv.TEMPORAL_ADDRESS = `127.0.0.1:${port}`;
    process.stdout.write(`longhaul-server  127.0.0.1:${port}  (database ${db})\n`);
  } else {
    process.stdout.write(`Temporal         ${env.TEMPORAL_ADDRESS}\n`);
  }
  parts.push(startPart('worker', entry('worker/main'), childEnv));
  process.stdout.write(
    `worker           task queue ${config.taskQueue}, jobs under ${path.join(config.dataDir, 'jobs')}\n`,
  );
  // The API prints its URL and, when no tokens are configured, the development token.
  const api = startPart('api', entry('api/main'), childEnv);
  parts.push(api);
  await waitForPort({
    host: env.LONGHAUL_API_HOST || '127.0.0.1',
    port: Number(env.PORT || 8080),
    child: api.child,
    what: api.name,
  });
  process.stdout.write(`config           ${config.file}\nCtrl-C stops everything.\n`);

  // If any part dies on its own, stop the rest: a half-running system is worse than a clear exit.
  const first = await Promise.race(parts.map((p) => p.exited.then((code) => ({ p, code }))));
  if (!stopping) {
    process.stderr.write(`${first.p.name} exited with code ${first.code}; stopping\n`);
    await stop(1);
  }
}

if (require.main === module) {
  start().catch((err) => {
    process.stderr.write(`longhaul: ${err?.message ?? err}\n`);
    process.exit(1);
  });
}
