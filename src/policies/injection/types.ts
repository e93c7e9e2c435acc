/** The attack classes the injection guard knows. */
export const INJECTION_CLASSES = ['sqli', 'nosqli', 'cmdi', 'path-traversal', 'xss', 'ldap', 'ssti'] as const;
export type InjectionClass = (typeof INJECTION_CLASSES)[number];

/** 1 catches the unambiguous; 2 and 3 add rules that also fire on more unusual benign text. */
export type Paranoia = 1 | 2 | 3;
