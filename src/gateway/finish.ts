import { performance } from 'node:perf_hooks';
import { GATEWAY_DECISIONS } from '../core/decisions.ts';
import { nullSink, type SecurityEvent } from '../core/events.ts';
import { basicUserId } from '../shared/basic-credentials.ts';
import { credentialHash, presentedCredential } from '../shared/credential-hash.ts';
import type { Flight, GatewayContext } from './flight.ts';
import { runComplete } from './pipeline.ts';
import type { Route } from './snapshot.ts';
import { endServerSpan } from './tracing.ts';

/**
 * The last step of every request, once its response is closed: metrics, the completion hooks of its
 * policies, and one object that is both the access record and the access event.
 */
export function finish(ctx: GatewayContext, f: Flight): void {
  if (f.finished) return;
  f.finished = true;
  f.snap.inFlight--;
  ctx.inFlight--;
  const { res, route, ex } = f;
  const status = res.headersSent ? res.statusCode : 499; // 499: the client went away first
  if (status === 499 && f.decision === 'allow') f.decision = GATEWAY_DECISIONS.clientAborted;
  const { decision, deniedBy } = f;
  const durationMs = performance.now() - f.startedAt;
  const apiName = route?.api.config.name ?? f.api?.config.name ?? '';
  durationCell(ctx, f, route, apiName, status).observe(durationMs / 1000);
  if (f.span !== null) endServerSpan(f, status, f.startedAt + durationMs);
  if (decision !== 'allow')
    ctx.decisions.inc({ api: apiName, policy: deniedBy ?? 'gateway', reason: decision });
  if (route && ex)
    runComplete(route.pipeline, ex, { status, durationMs, decision, deniedBy }, (err) =>
      ctx.logger.error({ err }, 'onComplete hook failed'),
    );
  const principal = ex?.principal;
  const refused = status === 401 || status === 403;
  // One object serves as the access record and the access event (one literal: one shape for V8).
  const event = {
    '@timestamp': ctx.stampEvents ? isoNow() : '',
    'event.kind': 'event',
    'event.category': 'web',
    'event.type': 'access',
    'event.action': 'http-request',
    'event.outcome': status < 400 && deniedBy !== 'upstream' ? 'success' : 'failure',
    'event.reason': decision !== 'allow' ? decision : undefined,
    'portcullis.path_params': ex?.route.pathParams,
    'portcullis.consumer': principal?.consumer,
    // A refused credential's fingerprint lets the detectors see one token or key replayed (never the value).
    'portcullis.credential.hash': refused ? fingerprint(f) : undefined,
    // The user-id of refused Basic credentials: the credential-abuse detector counts failures per user name
    // (a 403 from authenticate: Basic sent over plain HTTP).
    'user.name':
      status === 401 || (status === 403 && deniedBy === 'authenticate')
        ? basicUserId(f.req.headers.authorization)
        : undefined,
    'http.request.id': f.id,
    'trace.id': f.trace.traceId,
    'http.request.method': f.method,
    'url.path': f.rawPath,
    'http.route': route?.operation.path,
    'http.response.status_code': status,
    'client.address': f.fwd.clientIp,
    'event.duration_ms': Math.round(durationMs * 1000) / 1000,
    'portcullis.api': apiName === '' ? undefined : apiName,
    'portcullis.operation_id': route?.operation.id,
    'portcullis.decision': decision,
    'portcullis.denied_by': deniedBy,
    'portcullis.reported': ex?.reportedIfAny,
    'portcullis.waf.rule_ids': ex?.waf?.ruleIds,
    'portcullis.waf.score': ex?.waf?.score,
    'user.id': principal?.method === 'anonymous' ? undefined : principal?.subject || undefined,
  };
  ctx.accessLog?.(event);
  if (ctx.observeBodies && route && ex && decision === 'allow' && status < 400)
    sampleBodies(ctx, route, f, status);
  if (ctx.events !== nullSink) ctx.events.emit(event as SecurityEvent);
}

/** The duration histogram's child for this request's labels. */
function durationCell(ctx: GatewayContext, f: Flight, route: Route | undefined, api: string, status: number) {
  if (route === undefined || f.method !== route.operation.method)
    return ctx.durationCell(api, route ? route.operation.path : '_unmatched', f.method, status);
  let cell = route.durationByStatus.get(status);
  if (cell === undefined) {
    cell = ctx.durationCell(api, route.operation.path, f.method, status);
    // Statuses are numbers from the upstream: a handful per route, bounded all the same.
    if (route.durationByStatus.size < 100) route.durationByStatus.set(status, cell);
  }
  return cell;
}

/** The fingerprint of the credential the request presented, if any. */
function fingerprint(f: Flight): string | undefined {
  const credential = presentedCredential(f.req.headers, f.route?.api.apiKeyHeaders);
  return credential === undefined ? undefined : credentialHash(credential);
}

/**
 * Bodies of one operation handed to `observeBodies`: every one of the first 100, then one in 64 up to the
 * 6 500th (another 100), then one in 1024: a shape is learned early, and a busy operation stops paying for
 * samples that rarely teach anything new.
 */
const BODY_SAMPLES_ALL = 100;
const BODY_SAMPLES_OFTEN = 6500;
function sampleBody(n: number): boolean {
  return n <= BODY_SAMPLES_ALL || (n <= BODY_SAMPLES_OFTEN ? (n & 63) === 0 : (n & 1023) === 0);
}

function sampleBodies(ctx: GatewayContext, route: Route, f: Flight, status: number): void {
  const ex = f.ex!;
  if (ex.json === undefined && ex.responseJson === undefined) return;
  const n = ++route.bodiesSeen;
  if (!sampleBody(n)) return;
  try {
    ctx.observeBodies!(
      {
        api: route.api.config.name,
        method: route.operation.method,
        path: route.operation.path,
        operationId: route.operation.id,
      },
      ex.json,
      ex.responseJson,
      status,
    );
  } catch (err) {
    ctx.logger.error({ err }, 'body observer failed');
  }
}

let isoStampMs = -1;
let isoStamp = '';
/** `new Date().toISOString()`, made once per millisecond however many requests end in it. */
function isoNow(): string {
  const now = Date.now();
  if (now !== isoStampMs) {
    isoStampMs = now;
    isoStamp = new Date(now).toISOString();
  }
  return isoStamp;
}
