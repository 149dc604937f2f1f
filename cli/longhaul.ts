// The `longhaul` command: API tokens (`token create`, `token hash`) and the parts of a deployment (`server`,
// `worker`, `api`, `start`). The parts are loaded only when asked for, so token commands start quickly and never
// load Temporal's native worker.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { hashToken, newToken } from '../api/auth';
import { packageRoot } from '../config/load';
import { NAME_PATTERN } from '../config/names';

/** Same rule as config `clients` keys and LONGHAUL_TOKENS client ids. */
/** Plain YAML scalars that would not read back as the string (true, null, …): quoted in the snippet. */
const YAML_RESERVED = /^(true|false|null|yes|no|on|off|y|n)$/i;

/** Exit with a usage error (code 2), as for a bad command line. */
class UsageError extends Error {}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version are not errors; commander has already printed its message for the rest.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
    } else if (err instanceof UsageError) {
      process.stderr.write(`longhaul: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`longhaul: ${(err as Error)?.message ?? err}\n`);
      process.exitCode = 1;
    }
  }
}

function buildProgram(): Command {
  const program = new Command('longhaul')
    .description('Durable jobs for long-running programs, on Temporal')
    .exitOverride()
    .showHelpAfterError('(longhaul --help lists the commands)');

  const token = program.command('token').description('API tokens for clients');
  token
    .command('create')
    .description('Make a new token for CLIENT and print it with the config to add (only its hash is stored)')
    .argument('<client>', 'client id: letters, digits, _ and -, starting with a letter')
    .option('--admin', 'the client sees every client’s jobs')
    .option('--json', 'print {clientId, token, tokenSha256, admin} as JSON')
    .action((client: string, opts: { admin?: boolean; json?: boolean }) => {
      if (!NAME_PATTERN.test(client)) {
        throw new UsageError(
          `invalid client id ${JSON.stringify(client)}: use letters, digits, _ and -, starting with a letter (at most 64)`,
        );
      }
      process.stdout.write(tokenCreated(client, newToken(), !!opts.admin, !!opts.json));
    });
  token
    .command('hash')
    .description('Read a token on stdin and print its SHA-256 (the config’s tokenSha256)')
    .action(async () => {
      if (process.stdin.isTTY) process.stderr.write('Paste the token, then press Enter and Ctrl-D.\n');
      const text = (await readStdin()).trim();
      if (!text) throw new UsageError('no token on stdin');
      if (/\s/.test(text)) throw new UsageError('expected a single token on stdin');
      process.stdout.write(`${hashToken(text)}\n`);
    });

  program
    .command('server')
    .description('Run longhaul-server; arguments are passed on, e.g. --port 7233 --db-filename data/temporal.db')
    .argument('[args...]')
    .helpOption(false)
    .allowUnknownOption()
    .action(async (args: string[]) => {
      process.exitCode = await runServer(args);
    });
  program
    .command('worker')
    .description('Run a worker against TEMPORAL_ADDRESS')
    .action(async () => {
      // Loaded on demand: see the header.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runWorker } = require('../worker/main') as typeof import('../worker/main');
      await runWorker();
    });
  program
    .command('api')
    .description('Run the HTTP API on PORT (default 8080)')
    .action(async () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { runApi } = require('../api/main') as typeof import('../api/main');
      await runApi();
    });
  program
    .command('start')
    .description('Run everything on this machine: longhaul-server (unless TEMPORAL_ADDRESS is set) and a worker')
    .action(async () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { start } = require('./start') as typeof import('./start');
      await start();
    });
  return program;
}

/** What `token create` prints: the token, then where to put it. */
export function tokenCreated(clientId: string, token: string, admin: boolean, asJson = false): string {
  const sha = hashToken(token);
  if (asJson) return `${JSON.stringify({ clientId, token, tokenSha256: sha, admin })}\n`;
  const key = YAML_RESERVED.test(clientId) ? JSON.stringify(clientId) : clientId;
  return [
    `New token for client ${clientId}${admin ? ' (admin: sees every client’s jobs)' : ''}:`,
    '',
    `  ${token}`,
    '',
    'It is shown only once: give it to the client, who sends it as "Authorization: Bearer TOKEN".',
    'Add to the config file (longhaul keeps only the hash):',
    '',
    'clients:',
    `  ${key}: { tokenSha256: ${sha}${admin ? ', admin: true' : ''} }`,
    '',
    'or set the environment of the API instead (entries separated by commas):',
    '',
    `LONGHAUL_TOKENS=${clientId}:${token}${admin ? ':admin' : ''}`,
    '',
  ].join('\n');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs bin/longhaul-server as a child (it picks dist/ or the TypeScript source itself); resolves to its exit code.
 * Ctrl-C reaches both processes through the terminal; SIGTERM sent to this one alone is passed on. */
function runServer(args: string[]): Promise<number> {
  const child = spawn(process.execPath, [path.join(packageRoot(), 'bin', 'longhaul-server'), ...args], {
    stdio: 'inherit',
  });
  const forward = (signal: NodeJS.Signals) => () => {
    if (child.exitCode === null) child.kill(signal);
  };
  process.on('SIGTERM', forward('SIGTERM'));
  process.on('SIGINT', forward('SIGINT'));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    // Killed by a signal: the shell's convention, 128 + its number.
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
  });
}

if (require.main === module) {
  void main(process.argv.slice(2));
}
