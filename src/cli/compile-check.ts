import { pino } from 'pino';
import { systemClock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { nullSink } from '../core/events.ts';
import { createMetrics } from '../core/metrics.ts';
import { createGateway } from '../gateway/gateway.ts';
import { policies } from '../policies/registry.ts';
import { createMemoryStore } from '../state/memory-store.ts';

/** Compiles a config exactly as `serve` would, without opening any socket; throws GatewayBuildError. */
export async function checkCompiles(config: Config): Promise<void> {
  const store = createMemoryStore({ clock: systemClock, maxEntries: 1000 });
  const gw = await createGateway(config, {
    logger: pino({ level: 'silent' }),
    events: nullSink,
    metrics: createMetrics(),
    store,
    clock: systemClock,
    policies,
  });
  await gw.close();
  await store.close();
}
