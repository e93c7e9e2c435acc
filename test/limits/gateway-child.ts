/**
 * One gateway process for the distributed limit tests: reads `{ specs, config }` as JSON from the file named
 * in argv[2], starts the gateway exactly as the whole-system harness does, prints `{"url": ...}` on one line,
 * and closes when its stdin closes (so it never outlives the test that started it).
 */
import { readFile } from 'node:fs/promises';
import { startGateway } from '../harness.ts';

const { specs, config } = JSON.parse(await readFile(process.argv[2], 'utf8'));
const gw = await startGateway({ specs, config });
process.stdout.write(`${JSON.stringify({ url: gw.url })}\n`);
process.stdin.resume();
process.stdin.on('end', async () => {
  await gw.close();
  process.exit(0);
});
