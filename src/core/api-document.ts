/** The normalised view of an OpenAPI document that every part of Portcullis shares. */

export type JsonObject = Record<string, unknown>;
export type JsonSchema = JsonObject | boolean;

/** Source version of the document; Swagger 2.0 is converted to 3.0 on load. */
export type SpecVersion = '2.0' | '3.0' | '3.1';

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE' | 'OPTIONS' | 'HEAD' | 'PATCH' | 'TRACE';
export const HTTP_METHODS: readonly HttpMethod[] = [
  'GET',
  'PUT',
  'POST',
  'DELETE',
  'OPTIONS',
  'HEAD',
  'PATCH',
  'TRACE',
];

export type ParameterLocation = 'path' | 'query' | 'header' | 'cookie';

export interface Parameter {
  readonly name: string;
  readonly in: ParameterLocation;
  readonly required: boolean;
  readonly style: string;
  readonly explode: boolean;
  readonly allowReserved: boolean;
  readonly schema: JsonSchema | undefined;
  /** For parameters described with `content` instead of `schema`: the media type. */
  readonly contentType?: string;
  readonly deprecated: boolean;
  /** The raw (dereferenced) parameter object, extensions included. */
  readonly raw: JsonObject;
}

export interface MediaType {
  readonly schema: JsonSchema | undefined;
  readonly encoding?: JsonObject;
  readonly example?: unknown;
  readonly examples?: JsonObject;
}

export interface RequestBody {
  readonly required: boolean;
  /** Keyed by media type range exactly as declared (`application/json`, `text/*`, ...). */
  readonly content: Readonly<Record<string, MediaType>>;
}

export interface ResponseSpec {
  readonly description: string;
  readonly headers: Readonly<Record<string, JsonObject>>;
  readonly content: Readonly<Record<string, MediaType>>;
}

/** One alternative of an operation's `security`: scheme name → required scopes (AND of schemes). */
export type SecurityRequirement = Readonly<Record<string, readonly string[]>>;

export interface SecurityScheme {
  readonly type: 'apiKey' | 'http' | 'oauth2' | 'openIdConnect' | 'mutualTLS';
  readonly raw: JsonObject;
}

export interface Operation {
  /** `operationId`, or `METHOD /path` when the document gives none. */
  readonly id: string;
  readonly hasDeclaredId: boolean;
  readonly method: HttpMethod;
  /** Path template as declared, e.g. `/users/{userId}`. */
  readonly path: string;
  readonly summary?: string;
  readonly tags: readonly string[];
  readonly deprecated: boolean;
  /** Path-level and operation-level parameters merged (operation wins), all `$ref`s resolved. */
  readonly parameters: readonly Parameter[];
  readonly requestBody: RequestBody | undefined;
  /** Keyed by status code or range (`200`, `4XX`, `default`). */
  readonly responses: Readonly<Record<string, ResponseSpec>>;
  /**
   * Effective security: the operation's own, else the root's. `undefined` when neither declared any
   * (distinct from `[]`, which explicitly declares none).
   */
  readonly security: readonly SecurityRequirement[] | undefined;
  /** `x-*` members of the operation object. */
  readonly extensions: Readonly<JsonObject>;
  /** JSON pointer of the operation in the (converted) document, e.g. `/paths/~1users~1{id}/get`. */
  readonly pointer: string;
}

export interface ApiDocument {
  /** Absolute path of the file the document came from. */
  readonly file: string;
  readonly sourceVersion: SpecVersion;
  /** The document as OpenAPI 3.x (converted from 2.0 when needed), external refs bundled in. */
  readonly doc: JsonObject;
  readonly title: string;
  readonly version: string;
  readonly operations: readonly Operation[];
  readonly securitySchemes: Readonly<Record<string, SecurityScheme>>;
  /** Resolves a local `$ref` (`#/components/...`) against `doc`. */
  resolve(ref: string): unknown;
  /** 1-based line of a JSON pointer in the original file, when known. */
  lineOf(pointer: string): number | undefined;
}
