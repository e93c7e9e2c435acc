import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { startRuntime } from '../../src/cli/runtime.ts';
import type { PolicyDefinition } from '../../src/core/policy.ts';
import { buildConfig, echoHandler, op, openapi, startServer, tempFiles } from '../harness.ts';

test('a per-operation override replaces only the keys it sets; defaults fill the rest', async () => {
  const seen = new Map<string, Record<string, unknown>>();
  const recorder: PolicyDefinition = {
    name: 'recorder',
    stage: 'validate',
    description: 'records its compiled config per operation',
    schema: {
      type: 'object',
      properties: {
        limit: { type: 'integer', default: 10 },
        style: { enum: ['strict', 'lax'], default: 'strict' },
      },
    },
    fromSpec: (operation) => operation.extensions['x-recorder'] as Record<string, unknown> | undefined,
    compile(config, ctx) {
      seen.set(ctx.operation.id, config as unknown as Record<string, unknown>);
      return null;
    },
  };
  const upstream = await startServer(echoHandler);
  const dir = await tempFiles({
    'a.yaml': openapi({
      '/a': { get: op('getA') },
      '/b': { get: op('getB') },
      '/c': { get: op('getC', { 'x-recorder': { limit: 3 } }) },
    }),
  });
  const config = buildConfig({ apis: [{ name: 'a', spec: 'a.yaml', upstream: { url: upstream.url } }] }, dir);
  config.apis[0].policies = { recorder: { mode: 'report', enabled: true, style: 'lax' } };
  config.apis[0].operations = { getB: { policies: { recorder: { limit: 5 } as never } } };
  const runtime = await startRuntime({ config, logger: pino({ level: 'silent' }), policies: [recorder] });
  try {
    assert.deepEqual(seen.get('getA'), { mode: 'report', enabled: true, style: 'lax', limit: 10 });
    assert.deepEqual(seen.get('getB'), { mode: 'report', enabled: true, style: 'lax', limit: 5 });
    // Config beats the spec extension for keys both set; the extension fills what config leaves out.
    assert.deepEqual(seen.get('getC'), { mode: 'report', enabled: true, style: 'lax', limit: 3 });
  } finally {
    await runtime.close();
    await upstream.close();
  }
});
