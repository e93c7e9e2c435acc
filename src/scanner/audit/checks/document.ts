/**
 * Document-wide rules: servers and schemes (transport, inventory), security schemes, and secrets anywhere in
 * examples and defaults (one walk over the whole document).
 */
import type { Emit } from '../collector.ts';
import type { AuditModel } from '../model.ts';
import { R } from '../rules.ts';
import { escapePointer, isMapValue, type Json, pointerJoin } from '../source.ts';

const LOOPBACK = /^(?:localhost|127(?:\.\d+){3}|\[::1\]|0\.0\.0\.0|[^.]+\.localhost)(?::\d+)?$/i;
const ENVIRONMENT =
  /\b(?:local|dev|development|test|testing|qa|staging|stage|uat|sandbox|demo|mock|preprod|pre-production|prod|production|live)\b/i;

export function checkServers(model: AuditModel, emit: Emit): void {
  if (model.version === '2.0') {
    const check = (schemes: Json | undefined, pointer: string, label: string): void => {
      if (Array.isArray(schemes) && schemes.some((s) => String(s).toLowerCase() === 'http')) {
        const host = String(model.root.host ?? '');
        if (!LOOPBACK.test(host)) emit(R.httpServer, { key: pointer, anchor: pointer, pointer, label });
      }
    };
    check(model.root.schemes, '/schemes', `http://${String(model.root.host ?? '')}`);
    for (const op of model.operations) check(op.node.schemes, `${op.pointer}/schemes`, op.label);
    if (typeof model.root.host === 'string' && model.root.host.includes('@')) {
      emit(R.credentialsInServerUrl, { key: '/host', anchor: '/host', pointer: '/host' });
    }
    return;
  }
  for (const server of model.servers) {
    const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)/i.exec(server.url);
    if (m) {
      const scheme = m[1]!.toLowerCase();
      const authority = m[2]!;
      const at = authority.lastIndexOf('@');
      const host = at >= 0 ? authority.slice(at + 1) : authority;
      if ((scheme === 'http' || scheme === 'ws') && !LOOPBACK.test(host)) {
        emit(R.httpServer, {
          key: server.url,
          anchor: `${server.pointer}/url`,
          pointer: `${server.pointer}/url`,
          label: server.url,
        });
      }
      if (at >= 0) {
        emit(R.credentialsInServerUrl, {
          key: server.pointer,
          anchor: `${server.pointer}/url`,
          pointer: `${server.pointer}/url`,
          // Never repeat the credentials themselves in a report.
          label: `${scheme}://***@${host}`,
        });
      }
    }
    if (server.level !== 'root') continue;
    const node = server.node ?? {};
    if (typeof node['x-internal'] !== 'boolean') {
      emit(R.inventoryAccess, {
        key: 'all',
        anchor: server.pointer,
        pointer: server.pointer,
        label: server.url,
      });
    }
    if (typeof node.description !== 'string' || !ENVIRONMENT.test(node.description)) {
      emit(R.inventoryEnvironment, {
        key: 'all',
        anchor: server.pointer,
        pointer: server.pointer,
        label: server.url,
      });
    }
  }
}

export function checkSecuritySchemes(model: AuditModel, emit: Emit): void {
  for (const [name, { pointer, node }] of model.securitySchemes) {
    const hit = { key: name, anchor: pointer, subject: `security scheme \`${name}\``, pointer };
    const type = String(node.type);
    const scheme = String(node.scheme ?? '').toLowerCase();
    if ((type === 'http' && scheme === 'basic') || type === 'basic') emit(R.httpBasic, hit);
    if (type === 'http' && (scheme === 'negotiate' || scheme === 'oauth')) emit(R.insecureScheme, hit);
    if (type === 'http' && scheme === 'digest') emit(R.insecureScheme, { ...hit, severity: 'medium' });
    if (type === 'apiKey' && (node.in === 'query' || node.in === 'path')) {
      emit(R.apiKeyInUrl, { ...hit, label: `${String(node.in)} parameter \`${String(node.name)}\`` });
    }
    const isJwt =
      type === 'oauth2' || type === 'openIdConnect' || /jwt/i.test(String(node.bearerFormat ?? ''));
    if (isJwt && !/RFC\s*8725/i.test(String(node.description ?? ''))) emit(R.jwtBestPractices, hit);
    if (type === 'oauth2') {
      if (model.version === '2.0') {
        if (node.flow === 'implicit' || node.flow === 'password') {
          emit(R.deprecatedFlows, { ...hit, pointer: `${pointer}/flow`, label: String(node.flow) });
        }
      } else if (isMapValue(node.flows)) {
        for (const [flow, def] of Object.entries(node.flows)) {
          const at = pointerJoin(pointer, 'flows', flow);
          if (flow === 'implicit' || flow === 'password')
            emit(R.deprecatedFlows, { ...hit, pointer: at, label: flow });
          // Client credentials issue no refresh token (RFC 6749 §4.4.3); implicit cannot (§4.2.2).
          if (flow !== 'clientCredentials' && flow !== 'implicit' && isMapValue(def) && !def.refreshUrl) {
            emit(R.shortLivedTokens, { ...hit, pointer: at, label: flow });
          }
        }
      }
    }
  }
}

const SECRET_PATTERNS: { name: string; re: RegExp; severity: 'critical' | 'high' | 'medium' }[] = [
  {
    name: 'private key',
    re: /-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY/,
    severity: 'critical',
  },
  { name: 'AWS access key', re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/, severity: 'high' },
  { name: 'GitHub token', re: /\bgh[pousr]_[A-Za-z0-9]{36,}\b/, severity: 'high' },
  { name: 'Slack token', re: /\bxox[abprs]-[A-Za-z0-9-]{10,}/, severity: 'high' },
  { name: 'Stripe live key', re: /\b[sr]k_live_[A-Za-z0-9]{16,}/, severity: 'high' },
  { name: 'Google API key', re: /\bAIza[0-9A-Za-z_-]{35}\b/, severity: 'high' },
  { name: 'JWT', re: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/, severity: 'medium' },
  { name: 'bearer token', re: /^Bearer\s+[A-Za-z0-9._~+/-]{24,}=*$/, severity: 'medium' },
];
const EXAMPLE_KEYS = new Set(['example', 'examples', 'default', 'x-example', 'x-examples', 'const', 'enum']);
const SECRET_NAME = /(?:password|passwd|secret|api[-_]?key|private[-_]?key|client[-_]?secret)$/i;
/** Values that are obviously placeholders, not real secrets. */
const PLACEHOLDER =
  /^(?:string|password|secret|changeme|change-me|example|redacted|xxx+|\*+|\.+|<.*>|\{.*\}|\$\{.*\}|your[-_ ].*|my[-_ ]?(?:password|secret).*|.*example.*|.{0,5})$/i;

/** One node of the secrets walk; its pointer is spelled out only when a finding needs it. */
interface SecretFrame {
  readonly node: Json;
  /** The frame of the containing node (none for the root) and the step from it. */
  readonly up: SecretFrame | undefined;
  readonly step: string | number;
  readonly inExample: boolean;
  readonly key: string;
  readonly parentProperty?: string;
}

function pointerOf(f: SecretFrame): string {
  const steps: string[] = [];
  for (let x: SecretFrame | undefined = f; x?.up !== undefined; x = x.up) {
    steps.push(typeof x.step === 'number' ? String(x.step) : escapePointer(x.step));
  }
  let out = '';
  for (let i = steps.length - 1; i >= 0; i--) out += `/${steps[i]}`;
  return out;
}

/**
 * Walks the whole document once, testing every string under an example, default, const or enum. Strings
 * elsewhere are not visited, and no pointer is built unless a finding needs it: the walk sees every node.
 */
export function checkSecrets(model: AuditModel, emit: Emit): void {
  const stack: SecretFrame[] = [{ node: model.root, up: undefined, step: '', inExample: false, key: '' }];
  while (stack.length > 0) {
    const f = stack.pop()!;
    const { node } = f;
    if (typeof node === 'string') {
      if (!f.inExample) continue;
      let pointer: string | undefined;
      for (const p of SECRET_PATTERNS) {
        if (p.re.test(node) && !/EXAMPLE/.test(node)) {
          pointer ??= pointerOf(f);
          emit(R.secretsInExamples, {
            key: pointer,
            anchor: pointer,
            pointer,
            label: p.name,
            severity: p.severity,
          });
          break;
        }
      }
      // A password-like property whose example looks like a real value.
      const named = f.parentProperty ?? f.key;
      if (
        SECRET_NAME.test(named) &&
        !PLACEHOLDER.test(node) &&
        !SECRET_PATTERNS.some((p) => p.re.test(node))
      ) {
        pointer ??= pointerOf(f);
        emit(R.secretsInExamples, {
          key: pointer,
          anchor: pointer,
          pointer,
          label: `value of \`${named}\``,
          severity: 'medium',
        });
      }
      continue;
    }
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) {
        const child = node[i]!;
        if (typeof child === 'object' || (typeof child === 'string' && f.inExample)) {
          stack.push({
            node: child,
            up: f,
            step: i,
            inExample: f.inExample,
            key: f.key,
            parentProperty: f.parentProperty,
          });
        }
      }
    } else if (isMapValue(node)) {
      const keys = Object.keys(node);
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i]!;
        const child = node[k]!;
        if (typeof child !== 'object' && typeof child !== 'string') continue;
        if (child === null) continue;
        // `default` under `responses` is a response, and keys under `properties` are property names.
        const inExample =
          f.inExample ||
          (EXAMPLE_KEYS.has(k) && f.key !== 'properties' && !(k === 'default' && f.key === 'responses'));
        if (typeof child === 'string' && !inExample) continue;
        // Inside `properties`, the key names a property: remember it for the example below it.
        const parentProperty = f.key === 'properties' ? k : f.inExample ? undefined : f.parentProperty;
        stack.push({ node: child, up: f, step: k, inExample, key: k, parentProperty });
      }
    }
  }
}
