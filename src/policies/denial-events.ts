import type { Clock } from '../core/clock.ts';
import type { SecurityEvent } from '../core/events.ts';
import type { Exchange } from '../core/exchange.ts';
import { requestEventFields } from './event-fields.ts';

/**
 * What a policy says about one request it refused (or, in report mode, would have refused): the part of
 * its security event every policy writes alike. The policy adds its own fields to the event it gets back.
 */
export interface PolicyDenial {
  /** The policy or rule set that refused (ECS rule.name): `authenticate`, `authorize`, `crs`, ... */
  readonly policy: string;
  /** ECS event.action: `authenticate`, `authorize`, `injection-detected`, ... */
  readonly action: string;
  /** ECS event.category: `authentication`, `api`, `web`, `intrusion_detection`. */
  readonly category: string;
  /** Stable machine-readable reason (event.reason). */
  readonly reason: string;
  /** Whether the policy acted (`enforce`: event.type `denied`) or only reported (`report`: `info`). */
  readonly mode: 'enforce' | 'report';
  /**
   * event.outcome. By default the request's: `failure` when enforced, `unknown` when only reported. A
   * check that failed whatever the mode (a credential or a permission refused) says `failure`.
   */
  readonly outcome?: 'failure' | 'unknown';
  /** An alert (attack indicator, event.kind `alert`) rather than a plain denial (`event`). */
  readonly alert?: boolean;
  /** ECS event.severity, 1 (low) to 4 (critical); absent when the policy gives none. */
  readonly severity?: number;
  /** A readable detail (ECS message); never the rejected payload nor a secret. */
  readonly message?: string;
  /** The subject the refusal concerns (user.id), when one is known. */
  readonly subject?: string;
  /**
   * When the decision was made (ms since the epoch, @timestamp), if not now: a rate limit's decision time,
   * taken before its store answered.
   */
  readonly at?: number;
}

/**
 * The security event of a policy's denial, with ECS / OpenTelemetry field names and the request fields
 * every policy's event carries (`requestEventFields`); the caller adds its own fields and emits it.
 */
export function denialEvent(clock: Clock, ex: Exchange, d: PolicyDenial): SecurityEvent {
  const event: SecurityEvent = {
    '@timestamp': new Date(d.at ?? clock.now()).toISOString(),
    'event.kind': d.alert === true ? 'alert' : 'event',
    'event.category': d.category,
    'event.type': d.mode === 'enforce' ? 'denied' : 'info',
    'event.action': d.action,
    'event.outcome': d.outcome ?? (d.mode === 'enforce' ? 'failure' : 'unknown'),
    'event.reason': d.reason,
    ...requestEventFields(ex),
    'rule.name': d.policy,
    'portcullis.mode': d.mode,
  };
  if (d.severity !== undefined) event['event.severity'] = d.severity;
  if (d.message !== undefined) event.message = d.message;
  if (d.subject !== undefined) event['user.id'] = d.subject;
  return event;
}
