import { pino } from 'pino';
import type { Config } from '../config/types.ts';
import { createGateway } from '../gateway/gateway.ts';
import { nullSink } from '../monitor/events.ts';
import { createMetrics } from '../monitor/metrics.ts';
import { policies } from '../policies/registry.ts';
import { systemClock } from '../state/clock.ts';
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
