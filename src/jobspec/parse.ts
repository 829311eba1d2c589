import { parseDocument, type YAMLError } from 'yaml';
import type { ErrorDetail } from '../model/index.ts';
import { jsonErrorOffset } from './json-position.ts';
import { validateJob, type ParseResult } from './validate.ts';

/** Options of `parseJobSpec`. */
export interface ParseOptions {
  /**
   * The text's format. Default: from the extension of `source` (`.json`, `.yaml`, `.yml`), else
   * JSON when the text starts with `{`, else YAML.
   */
  format?: 'yaml' | 'json';
  /**
   * The file the text came from; its extension can tell the format. Problems keep paths relative
   * to the spec, so pass it to `formatErrors` too. Default: none.
   */
  source?: string;
}

/** The value a text holds, or its syntax problems. */
type Decoded = { ok: true; value: unknown } | { ok: false; errors: ErrorDetail[] };

/** Aliases may be expanded at most this many times, against "billion laughs" documents. */
const MAX_ALIAS_COUNT = 100;

/**
 * Parses a job spec written in YAML or JSON, validates it and applies the defaults. Reports syntax
 * problems with their line and column, and every validation problem with its path; never throws.
 */
export function parseJobSpec(text: string, options: ParseOptions = {}): ParseResult {
  const body = text.replace(/^\uFEFF/, '');
  if (body.trim() === '') return { ok: false, errors: [{ path: '', message: 'the spec is empty' }] };
  const format = options.format ?? formatOf(options.source);
  const decoded = decode(body, format ?? sniff(body), format === undefined);
  return decoded.ok ? validateJob(decoded.value) : decoded;
}

function formatOf(source: string | undefined): 'yaml' | 'json' | undefined {
  if (source === undefined) return undefined;
  if (/\.json$/i.test(source)) return 'json';
  if (/\.ya?ml$/i.test(source)) return 'yaml';
  return undefined;
}

function sniff(text: string): 'yaml' | 'json' {
  return text.trimStart().startsWith('{') ? 'json' : 'yaml';
}

function decode(text: string, format: 'yaml' | 'json', sniffed: boolean): Decoded {
  try {
    if (format === 'yaml') return decodeYaml(text);
    const json = decodeJson(text);
    // A sniffed `{` may start a YAML flow map (`{id: web, ...}`); JSON's error wins if neither reads it.
    if (json.ok || !sniffed) return json;
    const yaml = decodeYaml(text);
    return yaml.ok ? yaml : json;
  } catch (err) {
    return { ok: false, errors: [{ path: '', message: `cannot read the spec: ${describeCrash(err)}` }] };
  }
}

function describeCrash(err: unknown): string {
  if (err instanceof RangeError) return 'it is nested too deeply';
  return err instanceof Error ? err.message : String(err);
}

function decodeYaml(text: string): Decoded {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  // Warnings (an unknown `!tag`) are errors here: a spec that does not mean what it says must not run.
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) return { ok: false, errors: problems.map(yamlProblem) };
  return { ok: true, value: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) };
}

function yamlProblem(err: YAMLError): ErrorDetail {
  const where = err.linePos?.[0];
  const detail =
    err.code === 'MULTIPLE_DOCS'
      ? 'a spec holds one job, but this text has more than one YAML document'
      : (err.message.split(/ at line \d+, column \d+:/)[0] ?? err.message);
  const at = where === undefined ? '' : ` at line ${where.line}, column ${where.col}`;
  return { path: '', message: `invalid YAML${at}: ${detail}` };
}

function decodeJson(text: string): Decoded {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    const offset = jsonErrorOffset(text);
    if (offset === undefined) return { ok: false, errors: [{ path: '', message: `invalid JSON: ${err.message}` }] };
    const { line, column } = lineColumn(text, offset);
    const found = offset < text.length ? `unexpected ${JSON.stringify(text[offset])}` : 'unexpected end of text';
    return { ok: false, errors: [{ path: '', message: `invalid JSON at line ${line}, column ${column}: ${found}` }] };
  }
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lastBreak = before.lastIndexOf('\n');
  return { line: before.split('\n').length, column: offset - lastBreak };
}
