/**
 * nginx + ModSecurity v3 + OWASP CRS at paranoia level 1, as Debian packages them: the peer that the
 * injection guard (bench/waf-corpus.ts) and the full pipeline (bench/run.ts) are compared with.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const MODSEC_PACKAGES = ['nginx', 'libnginx-mod-http-modsecurity', 'modsecurity-crs'];
export const MODSEC_MODULE = '/usr/lib/nginx/modules/ngx_http_modsecurity_module.so';
const CRS_SETUP = '/etc/modsecurity/crs/crs-setup.conf';
const CRS_RULES = '/usr/share/modsecurity-crs/rules';
const MODSEC_BASE = '/etc/nginx/modsecurity.conf';
const UNICODE_MAP = '/etc/nginx/unicode.mapping';

/** The ModSecurity config (engine on and blocking, CRS 3.3 at PL1, audit log off) for a server in `dir`. */
export function modSecurityRules(dir: string): string {
  const base = readFileSync(MODSEC_BASE, 'utf8')
    .replace(/^SecRuleEngine .*$/m, 'SecRuleEngine On')
    .replace(/^SecAuditEngine .*$/m, 'SecAuditEngine Off')
    .replace(/^SecAuditLog .*$/m, `SecAuditLog ${join(dir, 'audit.log')}`)
    .replace(/^SecResponseBodyAccess .*$/m, 'SecResponseBodyAccess Off')
    .replace(/^SecTmpDir .*$/m, `SecTmpDir ${dir}`)
    .replace(/^SecDataDir .*$/m, `SecDataDir ${dir}`)
    .replace(/^SecStatusEngine .*$/m, 'SecStatusEngine Off')
    .replace(/^SecUnicodeMapFile unicode\.mapping/m, `SecUnicodeMapFile ${UNICODE_MAP}`);
  return [
    base,
    `Include ${CRS_SETUP}`,
    // CRS 3.3: paranoia level 1, anomaly scoring with the default inbound threshold (5) and blocking.
    'SecAction "id:900000,phase:1,nolog,pass,t:none,setvar:tx.paranoia_level=1"',
    `Include ${CRS_RULES}/*.conf`,
    '',
  ].join('\n');
}

/** Writes `modsec.conf` (see `modSecurityRules`) into `dir`; returns its path. */
export function writeModSecurityRules(dir: string): string {
  const file = join(dir, 'modsec.conf');
  writeFileSync(file, modSecurityRules(dir));
  return file;
}
