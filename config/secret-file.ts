// A secret kept in a file under the data directory (mode 0600): made on first use, read back afterwards, so that
// restarts keep it. Two processes starting together agree on one (the loser of the exclusive create reads it).
import fs from 'node:fs';
import path from 'node:path';

export function readOrCreateSecret(file: string, make: () => string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const secret = make();
    try {
      fs.writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
      return secret;
    } catch {
      return fs.readFileSync(file, 'utf8').trim();
    }
  }
}
