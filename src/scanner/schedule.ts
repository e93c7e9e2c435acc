/**
 * Regular audits and scans of the gateway's own APIs. Each job runs on its interval, off the request path;
 * every finding becomes a security event (ECS `event.category: vulnerability`), so it lands in the event
 * store and the dashboard beside the traffic it concerns.
 */
import type { Logger } from 'pino';
import type { JsonObject } from '../core/api-document.ts';
import type { Clock } from '../core/clock.ts';
import type { EventSink, SecurityEvent } from '../core/events.ts';
import type { Finding, FindingsResult } from './finding.ts';
import type { ScanIdentity } from './scan/index.ts';
import { HEADER_NAME, UNSHARED_HEADERS } from './scan/options.ts';

export interface ScheduledJob {
  /** Name shown in events and logs. */
  readonly name: string;
  /** Name of the API (in `apis`) whose OpenAPI document is audited or scanned. */
  readonly api: string;
  readonly everyMinutes: number;
  /** Delay before the first run, so a restart does not scan at once. */
  readonly initialDelaySeconds: number;
  readonly audit: boolean;
  readonly scan?: {
    readonly target: string;
    readonly identities: readonly ScanIdentity[];
    readonly admin?: ScanIdentity;
    readonly checks?: readonly string[];
    readonly ratePerSecond?: number;
    readonly headers?: Readonly<Record<string, string>>;
    /** The whole scan's time in seconds (`portcullis scan --timeout`); default 55. */
    readonly timeoutSeconds?: number;
  };
}

/** `[hH][oO][sS][tT]`: a header name in any case, for a JSON Schema pattern. */
const anyCase = (name: string) => name.replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`);

const identitySchema: JsonObject = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', description: 'Name of the identity in findings.' },
    bearer: { type: 'string', writeOnly: true, description: 'A bearer token (use ${VAR}).' },
    headers: {
      type: 'object',
      additionalProperties: { type: 'string' },
      writeOnly: true,
      description: 'Headers that authenticate this identity (e.g. an API key).',
    },
    login: {
      type: 'object',
      additionalProperties: false,
      required: ['path', 'body'],
      description:
        'Log in through the API: the token comes from the answer (a JSON member found by name at any depth, or the place given), or its cookies are the session.',
      properties: {
        path: {
          type: 'string',
          pattern: '^/',
          description: 'Login path relative to the target, e.g. /token.',
        },
        method: { type: 'string', enum: ['POST', 'PUT'], default: 'POST', description: 'Login method.' },
        body: {
          type: 'object',
          writeOnly: true,
          description: 'Fields sent (user name, password, client_id...); use ${VAR} for secrets.',
        },
        encoding: {
          type: 'string',
          enum: ['json', 'form'],
          default: 'json',
          description: 'Send the fields as JSON or form-encoded.',
        },
        grantType: {
          type: 'string',
          enum: ['password'],
          description: 'OAuth2 password grant: form-encoded, grant_type=password added.',
        },
        tokenPointer: {
          type: 'string',
          pattern: '^(/.*)?$',
          description: 'JSON pointer of the token in the answer, e.g. /auth/auth_token.',
        },
        tokenHeader: { type: 'string', description: 'Answer header carrying the token.' },
        tokenCookie: { type: 'string', description: 'Cookie carrying the token.' },
        header: {
          type: 'string',
          default: 'authorization',
          description: 'Request header the token is sent in.',
        },
        scheme: {
          type: 'string',
          description: 'Prefix of the token in that header; default Bearer for authorization.',
        },
      },
    },
    params: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: "Path parameter values that name this identity's own data (for BOLA checks).",
    },
  },
};

/** The `scans` config section. */
export const scansConfigSchema: JsonObject = {
  type: 'array',
  default: [],
  description:
    "Regular audits and active scans of this gateway's APIs; every finding becomes a security event (event.category vulnerability), visible in the event store and the dashboard.",
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'api', 'everyMinutes'],
    properties: {
      name: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$', description: 'Job name.' },
      api: { type: 'string', description: 'Name of the API (in apis) to audit or scan.' },
      everyMinutes: { type: 'integer', minimum: 1, description: 'Interval between runs.' },
      initialDelaySeconds: {
        type: 'integer',
        minimum: 0,
        default: 60,
        description: 'Delay before the first run after start.',
      },
      audit: { type: 'boolean', default: true, description: 'Run the static audit of the spec.' },
      scan: {
        type: 'object',
        additionalProperties: false,
        required: ['target', 'identities'],
        description: 'Also run the active OWASP scan against a live target (use a staging URL).',
        properties: {
          target: { type: 'string', pattern: '^https?://', description: 'Base URL to scan.' },
          identities: {
            type: 'array',
            minItems: 1,
            items: identitySchema,
            description: 'Two ordinary identities.',
          },
          admin: { ...identitySchema, description: 'An administrator identity (optional).' },
          checks: {
            type: 'array',
            items: { type: 'string' },
            description: 'Only these checks (API1 ... API10).',
          },
          ratePerSecond: {
            type: 'integer',
            minimum: 1,
            default: 20,
            description: 'Requests per second at most.',
          },
          timeoutSeconds: {
            type: 'integer',
            minimum: 1,
            maximum: 3600,
            default: 55,
            description:
              "The whole scan's time, logins included, shared by the checks (as portcullis scan --timeout): a larger API or a slow staging target may need more; what a check could not reach in time is named in the report.",
          },
          headers: {
            type: 'object',
            writeOnly: true,
            description:
              "Headers sent with every request of the scan, anonymous ones, logins and the login checks included: a setting of the deployment (X-Api-Version: 2, a tenant); an identity's own headers win for it. One named like a secret (key, token, auth...) or with a generated-looking value is shown as $CREDENTIAL in curl lines.",
            propertyNames: {
              pattern: `^(?!(?:${UNSHARED_HEADERS.map(anyCase).join('|')})$)${HEADER_NAME.source.slice(1)}`,
              'x-expected': `a header name (letters, digits and !#$%&'*+-.^_\`|~ only), not one the scan sets itself (${UNSHARED_HEADERS.join(', ')})`,
            },
            additionalProperties: {
              type: 'string',
              pattern: '^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f]+$',
              'x-expected': 'a header value on one line, not empty (no CR, LF or other control character)',
            },
          },
        },
      },
    },
  },
};

const SEVERITY_SCORE = { info: 1, low: 21, medium: 47, high: 73, critical: 99 } as const;

/** One finding as a security event: rule, OWASP category, CWE, severity and where in the spec. */
export function findingEvent(
  job: string,
  api: string,
  kind: 'audit' | 'scan',
  f: Finding,
  at: Date,
): SecurityEvent {
  return {
    '@timestamp': at.toISOString(),
    'event.kind': 'alert',
    'event.category': 'vulnerability',
    'event.type': 'info',
    'event.action': `${kind}-finding`,
    'event.severity': SEVERITY_SCORE[f.severity],
    'rule.id': f.rule.id,
    'rule.name': f.rule.title,
    'rule.category': f.rule.owasp,
    'vulnerability.severity': f.severity,
    'vulnerability.classification': f.rule.cwe.map((c) => `CWE-${c}`).join(','),
    message: f.message,
    'portcullis.api': api,
    'portcullis.scan.job': job,
    'portcullis.finding.fingerprint': f.fingerprint,
    ...(f.operation
      ? {
          'http.request.method': f.operation.method,
          'http.route': f.operation.path,
          'portcullis.operation_id': f.operation.operationId,
        }
      : {}),
    'portcullis.finding.location': `${f.location.file}${f.location.line ? `:${f.location.line}` : ''}`,
  };
}

export interface ScanScheduler {
  /** Runs one job now (tests, admin); resolves with what it found. */
  runNow(name: string): Promise<FindingsResult[]>;
  stop(): void;
}

/** Starts the timers of every job; `specFile(api)` names the OpenAPI file of a configured API. */
export function startScanScheduler(deps: {
  jobs: readonly ScheduledJob[];
  specFile: (api: string) => string | undefined;
  events: EventSink;
  logger: Logger;
  clock: Clock;
}): ScanScheduler {
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<string>();

  async function run(job: ScheduledJob): Promise<FindingsResult[]> {
    const file = deps.specFile(job.api);
    if (file === undefined) throw new Error(`scan job ${job.name}: no API named ${job.api}`);
    if (running.has(job.name)) return []; // a slow run is never overlapped by the next one
    running.add(job.name);
    const results: FindingsResult[] = [];
    try {
      // The audit and the scanner load when a job first runs: the gateway and `config check` read this
      // module for its config section only, and the scanner's start-up (its wordlists) is not theirs to pay.
      if (job.audit) {
        const { runAudit } = await import('./audit/index.ts');
        results.push(await runAudit(file));
      }
      if (job.scan) {
        const { runScan } = await import('./scan/index.ts');
        results.push(
          await runScan({
            spec: file,
            target: job.scan.target,
            identities: job.scan.identities,
            admin: job.scan.admin,
            checks: job.scan.checks,
            ratePerSecond: job.scan.ratePerSecond,
            ...(job.scan.headers ? { headers: job.scan.headers } : {}),
            ...(job.scan.timeoutSeconds !== undefined
              ? { scanTimeoutMs: job.scan.timeoutSeconds * 1000 }
              : {}),
          }),
        );
      }
      const at = new Date(deps.clock.now());
      for (const r of results) {
        for (const f of r.findings)
          deps.events.emit(findingEvent(job.name, job.api, r.kind ?? 'audit', f, at));
      }
      deps.logger.info(
        { job: job.name, api: job.api, findings: results.reduce((n, r) => n + r.findings.length, 0) },
        'scheduled scan finished',
      );
      return results;
    } finally {
      running.delete(job.name);
    }
  }

  const safeRun = (job: ScheduledJob) => {
    run(job).catch((err: unknown) =>
      deps.logger.error({ job: job.name, err: (err as Error).message }, 'scheduled scan failed'),
    );
  };
  for (const job of deps.jobs) {
    const first = setTimeout(() => {
      safeRun(job);
      const every = setInterval(() => safeRun(job), job.everyMinutes * 60_000);
      every.unref();
      timers.push(every);
    }, job.initialDelaySeconds * 1000);
    first.unref();
    timers.push(first);
  }
  return {
    runNow(name) {
      const job = deps.jobs.find((j) => j.name === name);
      if (job === undefined) return Promise.reject(new Error(`no scan job named ${name}`));
      return run(job);
    },
    stop() {
      for (const t of timers) clearTimeout(t);
    },
  };
}
