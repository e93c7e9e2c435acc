/**
 * The one base of the project's errors: each has a stable `code` from this union, which tests and the
 * CLI read (never the message). A code names a kind of failure, not a place in the code.
 */
export type ErrorCode =
  // config and specs
  | 'ERR_CONFIG'
  | 'ERR_GATEWAY_BUILD'
  | 'ERR_POLICY_CONFIG'
  | 'ERR_CONFIG_VALUE'
  | 'ERR_RULE_SYNTAX'
  | 'ERR_PASSWORD_HASH'
  | 'ERR_SPEC'
  | 'ERR_SPEC_PATTERN'
  | 'ERR_SPEC_READ'
  | 'ERR_SPEC_PARSE'
  | 'ERR_SPEC_NOT_OPENAPI'
  | 'ERR_SCHEMA_COMPILE'
  | 'ERR_PARAMETER_STYLE'
  | 'ERR_EVENT_STORE_CONFIG'
  | 'ERR_WAF_RULESET'
  | 'ERR_WAF_OPERATOR'
  | 'ERR_WAF_REGEX_UNSUPPORTED'
  // requests and their parts
  | 'ERR_BODY_FORMAT'
  | 'ERR_ADMIN_REQUEST'
  | 'ERR_BAN_INVALID'
  | 'ERR_EVENT_STORE_QUERY'
  // dependencies at run time
  | 'ERR_KEY_SOURCE_UNAVAILABLE'
  | 'ERR_IDENTITY_FETCH'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_STORE_CAPACITY'
  // commands
  | 'ERR_CLI'
  | 'ERR_AUDIT_OPTION'
  | 'ERR_REPORT_FORMAT'
  | 'ERR_SCAN'
  | 'ERR_SCAN_IDENTITY'
  | 'ERR_SCAN_LOGIN'
  | 'ERR_SCAN_OPTIONS';

/** Base of every error the project throws on purpose; `name` is the subclass's name. */
export abstract class PortcullisError extends Error {
  abstract readonly code: ErrorCode;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A config value a factory refused, with its path relative to the block that factory was given
 * (`issuers[0].keys[1]`, `consumers[0].passwordHashes[0]`); whoever handed it the block prefixes the rest.
 */
export class ConfigPathError extends PortcullisError {
  readonly code = 'ERR_CONFIG_VALUE';
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}
