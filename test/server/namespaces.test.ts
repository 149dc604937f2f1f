// Namespaces: registration, description, isolation of workflows between namespaces, and errors.
import { Client, Connection } from '@temporalio/client';
import Long from 'long';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/env';
import { hello } from '../workflows';

let connection: Connection;
let ctx: TestContext | undefined;
const name = `team-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
});
afterAll(async () => {
  await ctx?.close();
  await connection?.close();
});

describe('namespaces', () => {
  it('registers, describes and isolates a namespace', async () => {
    await connection.workflowService.registerNamespace({
      namespace: name,
      description: 'a team',
      workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(3 * 86400) },
    });
    const d = await connection.workflowService.describeNamespace({ namespace: name });
    expect(d.namespaceInfo?.name).toBe(name);
    expect(d.namespaceInfo?.description).toBe('a team');
    expect(Number(d.config?.workflowExecutionRetentionTtl?.seconds)).toBe(3 * 86400);
    const listed = await connection.workflowService.listNamespaces({});
    expect(listed.namespaces!.map((n) => n.namespaceInfo?.name)).toContain(name);

    ctx = await createTestContext({ worker: { namespace: name } });
    const client = new Client({ connection, namespace: name });
    const workflowId = `ns-${randomUUID()}`;
    expect(await client.workflow.execute(hello, { taskQueue: ctx.taskQueue, workflowId, args: ['ns'] })).toBe(
      'hello ns',
    );
    // The same id is unknown in the default namespace.
    const other = new Client({ connection });
    await expect(other.workflow.getHandle(workflowId).describe()).rejects.toThrow(/not found/i);
  });

  it('rejects duplicate, invalid and unknown namespaces', async () => {
    await expect(connection.workflowService.registerNamespace({ namespace: name })).rejects.toThrow(/ALREADY_EXISTS/);
    await expect(connection.workflowService.registerNamespace({ namespace: 'bad name!' })).rejects.toThrow(
      /INVALID_ARGUMENT: Namespace "bad name!" is invalid/,
    );
    await expect(connection.workflowService.describeNamespace({ namespace: 'no-such-namespace' })).rejects.toThrow(
      /NOT_FOUND: Namespace no-such-namespace is not found/,
    );
    const client = new Client({ connection, namespace: 'no-such-namespace' });
    await expect(
      client.workflow.start(hello, { taskQueue: 'x', workflowId: `ns-${randomUUID()}`, args: ['x'] }),
    ).rejects.toThrow();
  });
});
