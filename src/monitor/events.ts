/**
 * Security and access events. Field names follow ECS / OpenTelemetry (dotted keys, flat object), so the same
 * record goes to the log, the SQLite or PostgreSQL store and the detectors unchanged.
 */
export interface SecurityEvent {
  /** ISO-8601 timestamp. */
  '@timestamp': string;
  'event.kind': 'event' | 'alert';
  'event.category': string;
  'event.type': string;
  'event.action': string;
  'event.outcome'?: 'success' | 'failure' | 'unknown';
  'event.reason'?: string;
  'event.severity'?: number;
  [field: string]: unknown;
}

/** Where events go. `emit` never blocks and never throws; a sink drops (and counts) what it cannot keep. */
export interface EventSink {
  emit(event: SecurityEvent): void;
}

/** A sink that keeps nothing, for tools that run without a store. */
export const nullSink: EventSink = { emit() {} };
