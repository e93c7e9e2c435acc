/**
 * Splits SecLang text (ModSecurity configuration files, as the Core Rule Set ships them) into directives:
 * a name and its arguments, each with the line it starts on. Reads the file the way Apache-style
 * configuration is read: a backslash at the end of a line joins the next one, `#` starts a comment line,
 * arguments are separated by white space and may be double-quoted (`\"` inside quotes is a quote).
 */

/** One directive as written: `SecRule ARGS "@rx a" "id:1,deny"` → name `SecRule`, three arguments. */
export interface Directive {
  readonly name: string;
  readonly args: readonly string[];
  /** 1-based line of the directive's first line in its file. */
  readonly line: number;
}

/** A directive whose quoting could not be read. */
export interface LexIssue {
  readonly line: number;
  readonly message: string;
}

/** Reads every directive of one file's text. */
export function lexSecLang(text: string): { directives: Directive[]; issues: LexIssue[] } {
  const directives: Directive[] = [];
  const issues: LexIssue[] = [];
  const lines = text.split(/\r?\n/);
  let i = 0;
  while (i < lines.length) {
    const startLine = i + 1;
    let logical = lines[i];
    i++;
    const trimmed = logical.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    // Line continuation: a trailing backslash joins the next physical line.
    while (logical.endsWith('\\') && !logical.endsWith('\\\\') && i < lines.length) {
      logical = logical.slice(0, -1) + lines[i];
      i++;
    }
    const split = splitArguments(logical);
    if (typeof split === 'string') {
      issues.push({ line: startLine, message: split });
      continue;
    }
    if (split.length === 0) continue;
    directives.push({ name: split[0], args: split.slice(1), line: startLine });
  }
  return { directives, issues };
}

/** Splits one logical line into words; a double-quoted word keeps its spaces. Returns an error message on an open quote. */
export function splitArguments(line: string): string[] | string {
  const words: string[] = [];
  let p = 0;
  const n = line.length;
  while (p < n) {
    while (p < n && (line[p] === ' ' || line[p] === '\t')) p++;
    if (p >= n) break;
    if (line[p] === '"') {
      p++;
      let word = '';
      let closed = false;
      while (p < n) {
        const c = line[p];
        if (c === '\\' && line[p + 1] === '"') {
          word += '"';
          p += 2;
          continue;
        }
        if (c === '"') {
          closed = true;
          p++;
          break;
        }
        word += c;
        p++;
      }
      if (!closed) return 'unterminated double quote';
      words.push(word);
    } else {
      const start = p;
      while (p < n && line[p] !== ' ' && line[p] !== '\t') p++;
      words.push(line.slice(start, p));
    }
  }
  return words;
}
