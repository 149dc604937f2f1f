// `longhaul token create|hash`: the printed token authenticates with the printed config snippet and with the
// LONGHAUL_TOKENS form; a bad client id is a usage error (exit code 2).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { createTokenStore, hashToken } from '../../api/auth';
import type { LongHaulConfig } from '../../config/load';
import { configSchema } from '../../config/schema';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'cli', 'longhaul.ts');

function run(args: string[], opts: { stdin?: string; bin?: boolean } = {}) {
  const argv = opts.bin ? [path.join(ROOT, 'bin', 'longhaul'), ...args] : ['--import', 'tsx', CLI, ...args];
  const child = spawn(process.execPath, argv, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.end(opts.stdin ?? '');
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
}

/** A config with only the `clients` section the CLI told us to add. */
function configFromSnippet(output: string): Pick<LongHaulConfig, 'raw'> {
  const snippet = output.slice(output.indexOf('clients:')).split('\n\n')[0];
  const raw = configSchema.parse({ tools: {}, ...YAML.parse(snippet) });
  return { raw };
}

describe('longhaul token', () => {
  it('create prints a token, its hash as config, and the LONGHAUL_TOKENS form', async () => {
    const { code, stdout, stderr } = await run(['token', 'create', 'alice']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const token = /^ {2}(lh_[A-Za-z0-9_-]{43})$/m.exec(stdout)?.[1];
    expect(token).toBeDefined();
    const sha = /tokenSha256: ([0-9a-f]{64})/.exec(stdout)?.[1];
    expect(sha).toBe(hashToken(token!));
    expect(stdout).not.toContain('admin: true');

    const fromConfig = createTokenStore(configFromSnippet(stdout), {});
    expect(fromConfig.authenticate(token!)).toEqual({ clientId: 'alice', admin: false });
    expect(fromConfig.authenticate(token! + 'x')).toBeUndefined();

    const env = /^LONGHAUL_TOKENS=(.+)$/m.exec(stdout)?.[1];
    expect(env).toBe(`alice:${token}`);
    const fromEnv = createTokenStore({ raw: configSchema.parse({ tools: {} }) }, { LONGHAUL_TOKENS: env });
    expect(fromEnv.authenticate(token!)).toEqual({ clientId: 'alice', admin: false });
  });

  it('create --admin makes an admin, and every token is new', async () => {
    const [a, b] = await Promise.all([run(['token', 'create', 'ops', '--admin']), run(['token', 'create', 'ops'])]);
    expect(a.code).toBe(0);
    const token = /^ {2}(lh_\S+)$/m.exec(a.stdout)![1];
    expect(a.stdout).toContain('admin: true');
    expect(createTokenStore(configFromSnippet(a.stdout), {}).authenticate(token)).toEqual({
      clientId: 'ops',
      admin: true,
    });
    expect(a.stdout).toContain(`LONGHAUL_TOKENS=ops:${token}:admin`);
    expect(/^ {2}(lh_\S+)$/m.exec(b.stdout)![1]).not.toBe(token);
  });

  it('create --json prints the same facts for scripts, and quotes YAML look-alike client ids', async () => {
    const { code, stdout } = await run(['token', 'create', 'yes', '--json']);
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out).toEqual({
      clientId: 'yes',
      token: expect.stringMatching(/^lh_/),
      tokenSha256: expect.any(String),
      admin: false,
    });
    expect(out.tokenSha256).toBe(hashToken(out.token));
    const text = await run(['token', 'create', 'null']);
    const config = configFromSnippet(text.stdout);
    expect(Object.keys(config.raw.clients)).toEqual(['null']);
  });

  it('rejects an invalid client id with exit code 2', async () => {
    const bad = ['1alice', 'al ice', 'alice:admin', 'a'.repeat(65)];
    const results = await Promise.all(bad.map((id) => run(['token', 'create', id])));
    results.forEach(({ code, stdout, stderr }, i) => {
      expect(code, bad[i]).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toContain('invalid client id');
    });
    const [missing, unknown] = await Promise.all([run(['token', 'create']), run(['no-such-command'])]);
    expect(missing.code).toBe(2);
    expect(unknown.code).toBe(2);
  });

  it('hash reads a token on stdin and prints its SHA-256', async () => {
    const token = 'lh_some-token-for-hashing_0123456789';
    const { code, stdout } = await run(['token', 'hash'], { stdin: `${token}\n` });
    expect(code).toBe(0);
    expect(stdout).toBe(`${hashToken(token)}\n`);
    const empty = await run(['token', 'hash'], { stdin: '\n' });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('no token on stdin');
  });

  it('runs through bin/longhaul', async () => {
    const { code, stdout } = await run(['--help'], { bin: true });
    expect(code).toBe(0);
    for (const command of ['token', 'server', 'worker', 'api', 'start']) expect(stdout).toContain(command);
  });
});
