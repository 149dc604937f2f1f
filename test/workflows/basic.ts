import { proxyActivities, sleep } from '@temporalio/workflow';

const acts = proxyActivities<{ echo(s: string): Promise<string> }>({ startToCloseTimeout: '10s' });

export async function hello(name: string): Promise<string> {
  return `hello ${name}`;
}

export async function echoActivity(s: string): Promise<string> {
  return await acts.echo(s);
}

export async function sleeper(ms: number): Promise<string> {
  await sleep(ms);
  return 'slept';
}
