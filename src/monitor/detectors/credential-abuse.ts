import type { SecurityEvent } from '../../core/events.ts';
import {
  type AlertDraft,
  addSample,
  BoundedMap,
  CappedSet,
  type Detector,
  isFailedAuthentication,
  NO_ALERTS,
  requestIdOf,
  SlidingCount,
  sampleList,
  stringField,
} from './detector.ts';

export interface CredentialAbuseConfig {
  enabled: boolean;
  /** Sliding window over which failures are counted. */
  windowSeconds: number;
  /** Failed authentications from one IP (brute force). */
  maxFailuresPerIp: number;
  /** Distinct user names tried from one IP (credential stuffing from one source). */
  maxUsernamesPerIp: number;
  /** Failed authentications for one user name... */
  maxFailuresPerUsername: number;
  /** ...coming from at least this many IPs (distributed stuffing against one account). */
  minIpsPerUsername: number;
  /** Failed authentications with one credential (a leaked or revoked token or API key being replayed). */
  maxFailuresPerCredential: number;
  /** IPs, user names and credentials tracked at once, each. */
  maxKeys: number;
  cooldownSeconds: number;
}

export const credentialAbuseDefaults: CredentialAbuseConfig = {
  enabled: true,
  windowSeconds: 300,
  maxFailuresPerIp: 20,
  maxUsernamesPerIp: 10,
  maxFailuresPerUsername: 10,
  minIpsPerUsername: 5,
  maxFailuresPerCredential: 10,
  maxKeys: 10_000,
  cooldownSeconds: 300,
};

interface Counter {
  failures: SlidingCount;
  /**
   * Distinct user names (per IP) or IPs (per user name) in the current window; made at the first one (a
   * failure without a user name, the common case per IP, has none to keep).
   */
  distinct: CappedSet | undefined;
  distinctSince: number;
  /** Request ids for evidence (`addSample`). */
  samples: string;
  quietUntil: number;
}

/** Distinct members kept per key (more are counted, not kept). */
const MAX_DISTINCT = 256;

function distinctCount(c: Counter): number {
  return c.distinct?.size ?? 0;
}

/**
 * Credential stuffing and brute force: failed authentications per IP, per user name across IPs and per
 * presented credential (`portcullis.credential.hash`). Failures are access events answered 401 or denied by
 * the `authenticate` policy; the attempted identity is `user.name` when the gateway knows it.
 */
export function createCredentialAbuseDetector(cfg: CredentialAbuseConfig): Detector {
  const windowMs = cfg.windowSeconds * 1000;
  const byIp = new BoundedMap<Counter>(cfg.maxKeys);
  const byUser = new BoundedMap<Counter>(cfg.maxKeys);
  const byCredential = new BoundedMap<Counter>(cfg.maxKeys);
  const make = (t: number) => (): Counter => ({
    failures: new SlidingCount(windowMs),
    distinct: undefined,
    distinctSince: t,
    samples: '',
    quietUntil: 0,
  });

  function bump(c: Counter, t: number, member: string | undefined, id: string | undefined): number {
    // Distinct members are counted per window that restarts when it ends (coarser than the failure count).
    if (t - c.distinctSince > windowMs) {
      c.distinct = undefined;
      c.distinctSince = t;
    }
    if (member !== undefined) {
      c.distinct ??= new CappedSet(MAX_DISTINCT);
      c.distinct.add(member);
    }
    c.samples = addSample(c.samples, id);
    return c.failures.add(t);
  }

  return {
    name: 'credential-abuse',
    size: () => byIp.size + byUser.size + byCredential.size,
    observe(e: SecurityEvent, t: number) {
      if (!isFailedAuthentication(e)) return NO_ALERTS;
      if (Number.isNaN(t)) return NO_ALERTS;
      const ip = stringField(e, 'client.address') ?? stringField(e, 'source.ip');
      const user = stringField(e, 'user.name');
      const credential = stringField(e, 'portcullis.credential.hash');
      const id = requestIdOf(e);
      const api = stringField(e, 'portcullis.api');
      const alerts: AlertDraft[] = [];
      const base = (failures: number, c: Counter) => ({
        windowSeconds: cfg.windowSeconds,
        sampleRequestIds: sampleList(c.samples),
        failures,
      });

      if (ip !== undefined) {
        const c = byIp.touch(ip, make(t));
        const failures = bump(c, t, user, id);
        if (t >= c.quietUntil) {
          if (user !== undefined && distinctCount(c) >= cfg.maxUsernamesPerIp) {
            alerts.push({
              detector: 'credential-abuse',
              rule: 'stuffing-from-ip',
              severity: 'high',
              summary: `${ip} failed to authenticate as ${distinctCount(c)} different users`,
              offender: { ip },
              api,
              evidence: { ...base(failures, c), usernames: distinctCount(c) },
            });
            c.quietUntil = t + cfg.cooldownSeconds * 1000;
          } else if (failures >= cfg.maxFailuresPerIp) {
            alerts.push({
              detector: 'credential-abuse',
              rule: 'brute-force-ip',
              severity: 'high',
              summary: `${ip} failed to authenticate ${failures} times in ${cfg.windowSeconds}s`,
              offender: { ip },
              api,
              evidence: base(failures, c),
            });
            c.quietUntil = t + cfg.cooldownSeconds * 1000;
          }
        }
      }
      if (user !== undefined) {
        const c = byUser.touch(user, make(t));
        const failures = bump(c, t, ip, id);
        if (
          t >= c.quietUntil &&
          failures >= cfg.maxFailuresPerUsername &&
          distinctCount(c) >= cfg.minIpsPerUsername
        ) {
          // The account is the target, not the offender: banning it would lock its owner out.
          alerts.push({
            detector: 'credential-abuse',
            rule: 'stuffing-against-user',
            severity: 'high',
            summary: `${failures} failed logins as ${user} from ${distinctCount(c)} IPs`,
            offender: {},
            target: { user },
            api,
            evidence: {
              ...base(failures, c),
              ips: distinctCount(c),
              sampleIps: c.distinct?.sample(10) ?? [],
            },
          });
          c.quietUntil = t + cfg.cooldownSeconds * 1000;
        }
      }
      if (credential !== undefined) {
        const c = byCredential.touch(credential, make(t));
        const failures = bump(c, t, ip, id);
        if (t >= c.quietUntil && failures >= cfg.maxFailuresPerCredential) {
          alerts.push({
            detector: 'credential-abuse',
            rule: 'rejected-credential-replayed',
            severity: 'medium',
            summary: `one rejected credential was presented ${failures} times`,
            offender: { tokenHash: credential },
            api,
            evidence: {
              ...base(failures, c),
              ips: distinctCount(c),
              sampleIps: c.distinct?.sample(10) ?? [],
            },
          });
          c.quietUntil = t + cfg.cooldownSeconds * 1000;
        }
      }
      return alerts.length === 0 ? NO_ALERTS : alerts;
    },
  };
}
