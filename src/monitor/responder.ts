import type { Logger } from 'pino';
import { createCidrList, inCidrList } from '../shared/ip.ts';
import {
  type Ban,
  type BanKind,
  type BanList,
  type BanPolicyConfig,
  banPolicyDefaults,
} from '../state/bans.ts';
import type { Alert, Severity } from './detectors/detector.ts';

export interface ResponderConfig extends BanPolicyConfig {
  /** Whether alerts ban their offenders automatically. */
  enabled: boolean;
  /** Least severity of an alert that bans. */
  minSeverity: Severity;
  /** Detectors whose alerts may ban. */
  detectors: string[];
  /** What may be banned automatically. */
  kinds: BanKind[];
  /**
   * Also ban the address of an offender that is authenticated (subject, consumer or token known). Off by
   * default: many users can share one address (NAT, offices), and the identity ban already stops the caller.
   */
  banIpOfAuthenticated: boolean;
  /** Addresses and CIDR ranges never banned automatically (monitoring probes, partners). */
  exemptIps: string[];
}

export const responderDefaults: ResponderConfig = {
  ...banPolicyDefaults,
  enabled: true,
  minSeverity: 'high',
  detectors: ['enumeration', 'credential-abuse', 'volumetric', 'shadow-api'],
  kinds: ['ip', 'consumer', 'subject', 'token'],
  banIpOfAuthenticated: false,
  exemptIps: [],
};

const RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

/** Turns alerts into temporary bans of their offenders, escalating for repeat offenders. */
export interface Responder {
  /** Bans what the alert's offender allows; resolves with the bans made (never rejects). */
  handle(alert: Alert): Promise<Ban[]>;
}

export function createResponder(opts: { bans: BanList; config: ResponderConfig; logger: Logger }): Responder {
  const { bans, config, logger } = opts;
  const exempt = createCidrList(config.exemptIps);
  const detectors = new Set(config.detectors);
  const kinds = new Set(config.kinds);

  return {
    async handle(alert) {
      if (!config.enabled || !detectors.has(alert.detector)) return [];
      if (RANK[alert.severity] < RANK[config.minSeverity]) return [];
      const o = alert.offender;
      const targets: Array<[BanKind, string]> = [];
      if (o.subject && kinds.has('subject')) targets.push(['subject', o.subject]);
      if (o.consumer && kinds.has('consumer')) targets.push(['consumer', o.consumer]);
      if (o.tokenHash && kinds.has('token')) targets.push(['token', o.tokenHash]);
      const authenticated = o.subject !== undefined || o.consumer !== undefined || o.tokenHash !== undefined;
      if (o.ip && kinds.has('ip') && (!authenticated || config.banIpOfAuthenticated)) {
        // An exempt address is never banned, written as IPv4 or as IPv4-mapped IPv6.
        if (inCidrList(exempt, o.ip) === false) targets.push(['ip', o.ip]);
      }
      const made: Ban[] = [];
      for (const [kind, value] of targets) {
        try {
          const ban = await bans.ban(kind, value, {
            reason: `${alert.detector}/${alert.rule}`,
            source: 'auto',
            alertId: alert.id,
            detector: alert.detector,
          });
          made.push(ban);
          logger.warn(
            {
              ban: {
                kind,
                value,
                level: ban.level,
                expiresAt: ban.expiresAt,
              },
              alertId: alert.id,
            },
            `banned ${kind} for ${Math.round((ban.expiresAt - ban.createdAt) / 1000)}s (${ban.reason})`,
          );
        } catch (err) {
          logger.error({ err, kind, alertId: alert.id }, 'automatic ban failed');
        }
      }
      return made;
    },
  };
}
