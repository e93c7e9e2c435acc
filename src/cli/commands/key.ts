import { registerCommand } from '../command-table.ts';
import { CliError } from '../errors.ts';

registerCommand('key create', {
  usage: 'portcullis key create [--consumer NAME]',
  summary: 'make a new API key: shows the key once, and the hash to put in the config',
  help: `Options:
  --consumer NAME     the consumer the key is for, shown in the config snippet: letters, digits, _ . -
                      (default my-consumer)

The key is random (256 bits) and printed once; the config keeps only its SHA-256 hash, so a leaked
config does not leak keys. Keys can also be made at run time: POST /api/keys on the admin port (docs/identity.md).`,
  async run(args) {
    const { parseArgs } = await import('node:util');
    let consumer = 'my-consumer';
    try {
      const { values } = parseArgs({ args, options: { consumer: { type: 'string' } }, strict: true });
      if (values.consumer !== undefined) consumer = values.consumer;
    } catch (err) {
      throw new CliError((err as Error).message.split('\n')[0]);
    }
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(consumer))
      throw new CliError('--consumer: letters, digits, _ . - only');
    const { createApiKey } = await import('../../policies/authenticate/api-key.ts');
    const { key, hash } = createApiKey();
    const out = (l: string) => process.stdout.write(`${l}\n`);
    out(`API key (shown once; give it to ${consumer}, Portcullis keeps only the hash):`);
    out('');
    out(`  ${key}`);
    out('');
    out('Add the hash to the consumer in your config (several keys per consumer allow rotation):');
    out('');
    out('  policies:');
    out('    authenticate:');
    out('      schemes:');
    out('        <your apiKey scheme>:');
    out('          apiKey:');
    out('            consumers:');
    out(`              - name: ${consumer}`);
    out(`                keys: ['${hash}']`);
    return 0;
  },
});
