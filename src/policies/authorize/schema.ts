import type { SparseConfigOf } from '../../core/policy-config.ts';

/** Shape of the `x-portcullis-authz` operation extension: a CEL rule, or an object like the config. */
export type AuthzExtension = string | Omit<AuthorizeConfig, 'mode'>;

export const authorizeSchema = {
  type: 'object',
  additionalProperties: false,
  description:
    'Role rules and an object-level CEL rule per operation (also from the `x-portcullis-authz` extension). OAuth scopes are enforced by `authenticate`.',
  properties: {
    rolesAnyOf: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      description: 'The caller needs at least one of these roles.',
    },
    rolesAllOf: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      description: 'The caller needs every one of these roles.',
    },
    rule: {
      type: 'string',
      minLength: 1,
      description:
        "CEL expression that must be true, over `request` (method, path, query, headers, body) and `principal` (sub, consumer, scopes, roles, claims, method), e.g. `request.path.accountId == principal.sub || 'admin' in principal.roles`.",
    },
    allowAnonymous: {
      type: 'boolean',
      default: false,
      description:
        'Evaluate the rules for anonymous callers too (otherwise they are denied when rules exist).',
    },
  },
} as const;

/**
 * The `authorize` config. Every field may be absent: the block may also come from the operation's
 * `x-portcullis-authz` extension, which no defaults fill (a missing `allowAnonymous` is false).
 */
export type AuthorizeConfig = SparseConfigOf<typeof authorizeSchema>;
