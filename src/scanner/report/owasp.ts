/** Names and links of the OWASP API Security Top 10 (2023) categories, for reports. */
import type { OwaspCategory } from '../finding.ts';

export const OWASP_NAMES: Readonly<Record<OwaspCategory, string>> = {
  'API1:2023': 'Broken Object Level Authorization',
  'API2:2023': 'Broken Authentication',
  'API3:2023': 'Broken Object Property Level Authorization',
  'API4:2023': 'Unrestricted Resource Consumption',
  'API5:2023': 'Broken Function Level Authorization',
  'API6:2023': 'Unrestricted Access to Sensitive Business Flows',
  'API7:2023': 'Server Side Request Forgery',
  'API8:2023': 'Security Misconfiguration',
  'API9:2023': 'Improper Inventory Management',
  'API10:2023': 'Unsafe Consumption of APIs',
};

const SLUGS: Readonly<Record<OwaspCategory, string>> = {
  'API1:2023': '0xa1-broken-object-level-authorization',
  'API2:2023': '0xa2-broken-authentication',
  'API3:2023': '0xa3-broken-object-property-level-authorization',
  'API4:2023': '0xa4-unrestricted-resource-consumption',
  'API5:2023': '0xa5-broken-function-level-authorization',
  'API6:2023': '0xa6-unrestricted-access-to-sensitive-business-flows',
  'API7:2023': '0xa7-server-side-request-forgery',
  'API8:2023': '0xa8-security-misconfiguration',
  'API9:2023': '0xa9-improper-inventory-management',
  'API10:2023': '0xaa-unsafe-consumption-of-apis',
};

/** The OWASP page of a category. */
export function owaspUrl(category: OwaspCategory): string {
  return `https://owasp.org/API-Security/editions/2023/en/${SLUGS[category]}/`;
}

/** Categories in their natural order (API1 ... API10). */
export const OWASP_ORDER: readonly OwaspCategory[] = Object.keys(OWASP_NAMES) as OwaspCategory[];
