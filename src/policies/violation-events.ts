import type { Exchange } from '../core/exchange.ts';
import type { CompileContext } from '../core/policy.ts';
import { denialEvent } from './denial-events.ts';

/** What a policy of the validate and protect-response stages found wrong with one exchange. */
export interface Violation {
  /** The policy that found it (`validateRequest`, `ssrfGuard`, ...). */
  readonly policy: string;
  /** Stable machine-readable reason (`schema`, `unsupported_media_type`, `private_address`, ...). */
  readonly reason: string;
  /** Whether the policy acted (`enforce`) or only reported (`report`). */
  readonly mode: 'enforce' | 'report';
  /** ECS event.action, e.g. `request-validation`. */
  readonly action: string;
  /** Where in the request or response, as JSON pointers; never the offending values. */
  readonly pointers?: readonly string[];
  /** ECS severity 1 (low) to 4 (critical). */
  readonly severity?: number;
  /** An alert (attack indicator) rather than a plain denial. */
  readonly alert?: boolean;
}

/**
 * Emits one security event for a violation, with ECS / OpenTelemetry field names. Never carries the
 * rejected payload: only pointers to where it was.
 */
export function emitViolation(
  ctx: Pick<CompileContext, 'events' | 'clock' | 'apiName'>,
  ex: Exchange,
  v: Violation,
) {
  const event = denialEvent(ctx.clock, ex, {
    policy: v.policy,
    action: v.action,
    category: v.alert === true ? 'intrusion_detection' : 'web',
    reason: v.reason,
    mode: v.mode,
    alert: v.alert,
    severity: v.severity ?? 2,
    subject: ex.principal?.subject,
  });
  if (v.pointers !== undefined && v.pointers.length > 0)
    event['portcullis.pointers'] = v.pointers.slice(0, 20);
  ctx.events.emit(event);
}
