/**
 * One gateway process for the distributed limit tests: reads `{ specs, config }` as JSON from the file named
 * in argv[2], starts the gateway exactly as the whole-system harness does, prints `{"url": ...}` on one line,
 * and closes when its stdin closes (so it never outlives the test that started it), printing the limit
 * events it saw by action as a last line.
 */
import { readFile } from 'node:fs/promises';
import { startGateway } from '../../harness.ts';

const { specs, config } = JSON.parse(await readFile(process.argv[2], 'utf8'));
const gw = await startGateway({ specs, config });
process.stdout.write(`${JSON.stringify({ url: gw.url })}\n`);
process.stdin.resume();
process.stdin.on('end', async () => {
  const actions: Record<string, number> = {};
  for (const e of gw.events) {
    const a = String(e['event.action']);
    if (a.startsWith('rate-limit-store')) actions[a] = (actions[a] ?? 0) + 1;
  }
  process.stdout.write(`${JSON.stringify({ actions })}\n`);
  await gw.close();
  process.exit(0);
});
