/**
 * `npm run page:test -- --routing-key-file F [--server host:port] [--ca-file F]`: sends a test trigger
 * and its resolve through the production client, so an operator can prove a routing key works end to
 * end. Exit 0 when both were accepted.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { createPager, createPagerDutyClient, DEFAULT_PAGERDUTY_SERVER, readRoutingKeyFile } from '../alerts';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'routing-key-file': { type: 'string' },
      server: { type: 'string', default: DEFAULT_PAGERDUTY_SERVER },
      'ca-file': { type: 'string' },
      'timeout-ms': { type: 'string', default: '10000' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || !values['routing-key-file']) {
    console.error(
      'usage: npm run page:test -- --routing-key-file FILE [--server host:port] [--ca-file PEM] [--timeout-ms N]',
    );
    return values.help ? 0 : 2;
  }
  const routingKey = readRoutingKeyFile(values['routing-key-file']);
  const client = createPagerDutyClient({
    server: values.server,
    attemptTimeoutMs: Number(values['timeout-ms']),
    maxAttempts: 3,
    ...(values['ca-file'] ? { ca: readFileSync(values['ca-file']) } : {}),
  });
  const dedupKey = `telehealth/page-test/${Date.now()}`;
  const pager = createPager({
    client,
    routingKey,
    source: 'telehealth page:test',
    severity: 'info',
    component: 'alerting',
  });
  try {
    const t = await pager.trigger(
      dedupKey,
      'TEST page from npm run page:test: proves the routing key works; resolves itself',
      {
        sent_by: hostname().slice(0, 64),
      },
    );
    if (!t.ok) {
      console.error(`trigger failed (${t.reason}${t.status ? `, HTTP ${t.status}` : ''}): ${t.message}`);
      return 1;
    }
    console.log(
      `trigger accepted (HTTP ${t.status}, dedup_key ${t.dedupKey ?? dedupKey}, ${t.attempts} attempt(s))`,
    );
    const r = await pager.resolve(dedupKey);
    if (!r.ok) {
      console.error(`resolve failed (${r.reason}${r.status ? `, HTTP ${r.status}` : ''}): ${r.message}`);
      return 1;
    }
    console.log(`resolve accepted (HTTP ${r.status}, ${r.attempts} attempt(s)); the test incident is closed`);
    return 0;
  } finally {
    client.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`page:test: ${err.message}`);
    process.exit(2);
  },
);
