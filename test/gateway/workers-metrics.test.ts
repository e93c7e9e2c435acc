/**
 * `portcullis serve --workers 2` as its own process: worker 0's `/metrics` answers for every worker, and
 * a worker that is stopped or killed neither blocks the scrape nor makes the totals go down.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { echoHandler, startServer, type TestServer } from '../harness.ts';
import { type ServeProcess, startServeProcess } from '../kit/process.ts';
import { sendSpread, writeShopConfig } from './serve-process.ts';

const REQUESTS = 200;

interface Scrape {
  readonly text: string;
  /** Sum of every series of a sample name (e.g. `x_count` over all label sets). */
  total(sample: string): number;
  /** The value of one sample line, labels included (`x{worker="1"}`). */
  value(line: string): number | undefined;
}

function parse(text: string): Scrape {
  const samples = text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const at = l.lastIndexOf(' ');
      return { series: l.slice(0, at), value: Number(l.slice(at + 1)) };
    });
  return {
    text,
    total: (sample) =>
      samples
        .filter((s) => s.series === sample || s.series.startsWith(`${sample}{`))
        .reduce((sum, s) => sum + s.value, 0),
    value: (line) => samples.find((s) => s.series === line)?.value,
  };
}

describe('metrics of a multi-worker gateway', () => {
  let upstream: TestServer;
  let serve: ServeProcess;

  const scrape = async (): Promise<Scrape> => {
    const res = await fetch(`${serve.adminUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parse(await res.text());
  };

  before(async () => {
    upstream = await startServer(echoHandler);
    const configFile = await writeShopConfig(upstream.url, {
      token: 'workers-metrics-test-token-0123456789',
      monitor: { enabled: false },
    });
    serve = await startServeProcess(configFile, { args: ['--workers', '2'], admin: true });
  });

  after(async () => {
    if (serve?.child.exitCode === null && serve.child.signalCode === null) {
      // Wake every worker first, so a test that failed with one stopped cannot stall the shutdown.
      for (const index of [0, 1]) {
        try {
          process.kill(await serve.workerPid(index), 'SIGCONT');
        } catch {
          // Not there (restarting): nothing to wake.
        }
      }
    }
    await serve?.stop();
    await upstream?.close();
  });

  test('worker 0 reports the requests of both workers, exactly', async () => {
    await sendSpread(serve.gatewayUrl, REQUESTS);
    const m = await scrape();
    // Worker 0 alone served about half of them: only the merged count can reach the exact total.
    assert.equal(m.total('portcullis_http_server_request_duration_seconds_count'), REQUESTS);
    assert.equal(m.value('portcullis_workers'), 2);
    assert.equal(m.value('portcullis_workers_reporting'), 2);
    assert.equal(m.value('portcullis_worker_up{worker="0"}'), 1);
    assert.equal(m.value('portcullis_worker_up{worker="1"}'), 1);
    assert.equal(m.value('portcullis_http_server_active_requests'), 0);
    // One HELP and one TYPE line per family, and each family's samples right under its TYPE line.
    const types = [...m.text.matchAll(/^# TYPE (\S+) /gm)].map((x) => x[1]);
    assert.equal(new Set(types).size, types.length);
    assert.equal(m.text.match(/^# HELP /gm)?.length, types.length);
    let family = '';
    for (const line of m.text.trimEnd().split('\n')) {
      if (line.startsWith('# TYPE ')) family = line.split(' ')[2];
      else if (!line.startsWith('# HELP ')) {
        const name = /^[a-z_]+/.exec(line)?.[0];
        assert.ok(
          [family, `${family}_bucket`, `${family}_sum`, `${family}_count`].includes(name ?? ''),
          `${line} is under # TYPE ${family}`,
        );
      }
    }
  });

  test('a stopped worker does not block the scrape: it is reported missing and its last counts stay', async () => {
    const pid = await serve.workerPid(1);
    process.kill(pid, 'SIGSTOP');
    try {
      const m = await scrape();
      assert.equal(m.value('portcullis_workers_reporting'), 1);
      assert.equal(m.value('portcullis_worker_up{worker="0"}'), 1);
      assert.equal(m.value('portcullis_worker_up{worker="1"}'), 0);
      assert.equal(m.total('portcullis_http_server_request_duration_seconds_count'), REQUESTS);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const again = await scrape();
    assert.equal(again.value('portcullis_workers_reporting'), 2);
  });

  test('a killed worker is restarted and the merged totals never go down', async () => {
    const pid = await serve.workerPid(1);
    process.kill(pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const during = await scrape();
    assert.equal(during.value('portcullis_worker_up{worker="1"}'), 0);
    assert.equal(during.total('portcullis_http_server_request_duration_seconds_count'), REQUESTS);

    let back = during;
    for (let i = 0; i < 100 && back.value('portcullis_workers_reporting') !== 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      back = await scrape();
    }
    assert.equal(back.value('portcullis_workers_reporting'), 2, 'the restarted worker reports');
    assert.notEqual(await serve.workerPid(1), pid);
    assert.equal(back.total('portcullis_http_server_request_duration_seconds_count'), REQUESTS);

    await sendSpread(serve.gatewayUrl, 20);
    const after = await scrape();
    assert.equal(after.total('portcullis_http_server_request_duration_seconds_count'), REQUESTS + 20);
  });
});
