/**
 * A JSON reader that reports what PostgreSQL's frontend JSON parser (src/common/jsonapi.c) reports:
 * the same tokens, the same points where a syntax error is found, and the same detail texts
 * ("Expected \",\" or \"}\", but found \"x\".", "The input string ended unexpectedly.", ...), so that a
 * damaged backup_manifest gives pg_verifybackup's and pg_combinebackup's words.
 *
 * It walks a whole document held in memory (manifests are read whole, as pg reads small ones) and
 * calls semantic callbacks in document order; a callback may throw to stop the walk.
 */

export type JsonScalarType = 'string' | 'number' | 'true' | 'false' | 'null';

export interface JsonEvents {
  objectStart(): void;
  objectEnd(): void;
  arrayStart(): void;
  arrayEnd(): void;
  fieldStart(name: string): void;
  /** `bytes` is the de-escaped string (for strings) or the token text (other scalars). */
  scalar(bytes: Buffer, type: JsonScalarType): void;
}

/** A syntax error; `message` is jsonapi's detail text. */
export class JsonSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

type Tok = 'END' | '{' | '}' | '[' | ']' | ',' | ':' | 'string' | 'number' | 'true' | 'false' | 'null';
type Ctx = 'END' | 'VALUE' | 'STRING' | 'ARRAY_NEXT' | 'OBJECT_START' | 'OBJECT_LABEL' | 'OBJECT_NEXT';

const MAX_DEPTH = 6400;

function isAlnum(c: number): boolean {
  // JSON_ALPHANUMERIC_CHAR: letters, digits, '_' and any byte >= 0x80
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c >= 0x80;
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** Length of the UTF-8 character starting at `b` (pg_utf_mblen), for error spans. */
function utf8Len(b: number): number {
  if ((b & 0x80) === 0) return 1;
  if ((b & 0xe0) === 0xc0) return 2;
  if ((b & 0xf0) === 0xe0) return 3;
  if ((b & 0xf8) === 0xf0) return 4;
  return 1;
}

class Lexer {
  pos = 0;
  tok: Tok = 'END';
  start = -1; // -1: no token (end of input)
  term = 0;
  value: Buffer = Buffer.alloc(0);

  constructor(private readonly input: Buffer) {}

  private tokenText(): string {
    return this.start < 0 ? '' : this.input.subarray(this.start, this.term).toString('utf8');
  }

  fail(kind: 'INVALID' | 'ESCAPING_INVALID'): never {
    const t = this.tokenText();
    throw new JsonSyntaxError(kind === 'INVALID' ? `Token "${t}" is invalid.` : `Escape sequence "\\${t}" is invalid.`);
  }

  /** jsonapi's report_parse_error for the current token in a parse context. */
  expected(ctx: Ctx): never {
    if (this.start < 0 || this.tok === 'END') throw new JsonSyntaxError('The input string ended unexpectedly.');
    const t = this.tokenText();
    const what: Record<Ctx, string> = {
      END: 'Expected end of input, but found',
      VALUE: 'Expected JSON value, but found',
      STRING: 'Expected string, but found',
      ARRAY_NEXT: 'Expected "," or "]", but found',
      OBJECT_START: 'Expected string or "}", but found',
      OBJECT_LABEL: 'Expected ":", but found',
      OBJECT_NEXT: 'Expected "," or "}", but found',
    };
    throw new JsonSyntaxError(`${what[ctx]} "${t}".`);
  }

  next(): void {
    const s = this.input;
    const end = s.length;
    let p = this.pos;
    while (p < end && (s[p] === 0x20 || s[p] === 0x09 || s[p] === 0x0a || s[p] === 0x0d)) p++;
    this.start = p;
    if (p >= end) {
      this.start = -1;
      this.term = p;
      this.pos = p;
      this.tok = 'END';
      return;
    }
    const c = s[p] as number;
    switch (c) {
      case 0x7b: return this.punct('{', p);
      case 0x7d: return this.punct('}', p);
      case 0x5b: return this.punct('[', p);
      case 0x5d: return this.punct(']', p);
      case 0x2c: return this.punct(',', p);
      case 0x3a: return this.punct(':', p);
      case 0x22: return this.lexString(p);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.lexNumber(c === 0x2d ? p + 1 : p);
    }
    let q = p;
    while (q < end && isAlnum(s[q] as number)) q++;
    if (q === p) {
      this.term = p + 1;
      this.fail('INVALID');
    }
    this.term = q;
    this.pos = q;
    const word = s.subarray(p, q).toString('latin1');
    if (word === 'true' || word === 'false' || word === 'null') {
      this.tok = word;
      this.value = s.subarray(p, q);
      return;
    }
    this.fail('INVALID');
  }

  private punct(t: Tok, p: number): void {
    this.tok = t;
    this.term = p + 1;
    this.pos = p + 1;
  }

  private lexNumber(from: number): void {
    const s = this.input;
    const end = s.length;
    let p = from;
    let error = false;
    if (p < end && s[p] === 0x30) p++;
    else if (p < end && (s[p] as number) >= 0x31 && (s[p] as number) <= 0x39) {
      do p++;
      while (p < end && (s[p] as number) >= 0x30 && (s[p] as number) <= 0x39);
    } else error = true;
    if (p < end && s[p] === 0x2e) {
      p++;
      if (p === end || (s[p] as number) < 0x30 || (s[p] as number) > 0x39) error = true;
      else {
        do p++;
        while (p < end && (s[p] as number) >= 0x30 && (s[p] as number) <= 0x39);
      }
    }
    if (p < end && (s[p] === 0x65 || s[p] === 0x45)) {
      p++;
      if (p < end && (s[p] === 0x2b || s[p] === 0x2d)) p++;
      if (p === end || (s[p] as number) < 0x30 || (s[p] as number) > 0x39) error = true;
      else {
        do p++;
        while (p < end && (s[p] as number) >= 0x30 && (s[p] as number) <= 0x39);
      }
    }
    for (; p < end && isAlnum(s[p] as number); p++) error = true;
    this.term = p;
    this.pos = p;
    if (error) this.fail('INVALID');
    this.tok = 'number';
    this.value = s.subarray(this.start, p);
  }

  private lexString(open: number): void {
    const s = this.input;
    const end = s.length;
    // Fast path: no escape and no control character before the closing quote (every string a server
    // writes but Encoded-Path's hex): the value is a view of the input.
    const close = s.indexOf(0x22, open + 1);
    if (close > 0) {
      let p = open + 1;
      while (p < close) {
        const c = s[p] as number;
        if (c === 0x5c || c <= 31) break;
        p++;
      }
      if (p === close) {
        this.tok = 'string';
        this.value = s.subarray(open + 1, close);
        this.term = close + 1;
        this.pos = close + 1;
        return;
      }
    }
    this.lexEscapedString(open);
  }

  /** A string with escapes or a character that must be escaped: decoded, or jsonapi's error for it. */
  private lexEscapedString(open: number): void {
    const s = this.input;
    const end = s.length;
    let chunkStart = -1;
    const parts: Buffer[] = [];
    const flush = (upto: number): void => {
      if (chunkStart >= 0) parts.push(s.subarray(chunkStart, upto));
      chunkStart = -1;
    };
    const failAtCharEnd = (at: number, kind: 'ESCAPE_FORMAT' | 'ESCAPING_INVALID' | 'ZERO' | 'HIGH' | 'LOW'): never => {
      this.term = Math.min(at + utf8Len(s[at] as number), end);
      switch (kind) {
        case 'ESCAPING_INVALID':
          this.start = at;
          return this.fail('ESCAPING_INVALID');
        case 'ESCAPE_FORMAT':
          throw new JsonSyntaxError('"\\u" must be followed by four hexadecimal digits.');
        case 'ZERO':
          throw new JsonSyntaxError('\\u0000 cannot be converted to text.');
        case 'HIGH':
          throw new JsonSyntaxError('Unicode high surrogate must not follow a high surrogate.');
        case 'LOW':
          throw new JsonSyntaxError('Unicode low surrogate must follow a high surrogate.');
      }
    };
    const failAtCharStart = (at: number): never => {
      this.term = at;
      return this.fail('INVALID');
    };
    let hi = -1;
    let p = open;
    for (;;) {
      p++;
      if (p >= end) failAtCharStart(p);
      const c = s[p] as number;
      if (c === 0x22) break;
      if (c === 0x5c) {
        flush(p);
        p++;
        if (p >= end) failAtCharStart(p);
        const e = s[p] as number;
        if (e === 0x75) {
          let ch = 0;
          for (let i = 0; i < 4; i++) {
            p++;
            if (p >= end) failAtCharStart(p);
            const h = hexVal(s[p] as number);
            if (h < 0) failAtCharEnd(p, 'ESCAPE_FORMAT');
            ch = ch * 16 + h;
          }
          if (ch >= 0xd800 && ch <= 0xdbff) {
            if (hi !== -1) failAtCharEnd(p, 'HIGH');
            hi = ch;
            continue;
          } else if (ch >= 0xdc00 && ch <= 0xdfff) {
            if (hi === -1) failAtCharEnd(p, 'LOW');
            ch = 0x10000 + ((hi - 0xd800) << 10) + (ch - 0xdc00);
            hi = -1;
          }
          if (hi !== -1) failAtCharEnd(p, 'LOW');
          if (ch === 0) failAtCharEnd(p, 'ZERO');
          parts.push(Buffer.from(String.fromCodePoint(ch), 'utf8'));
        } else {
          if (hi !== -1) failAtCharEnd(p, 'LOW');
          const map: Record<number, number> = { 0x22: 0x22, 0x5c: 0x5c, 0x2f: 0x2f, 0x62: 8, 0x66: 12, 0x6e: 10, 0x72: 13, 0x74: 9 };
          const v = map[e];
          if (v === undefined) failAtCharEnd(p, 'ESCAPING_INVALID');
          parts.push(Buffer.from([v as number]));
        }
      } else {
        if (hi !== -1) failAtCharEnd(p, 'LOW');
        if (c <= 31) {
          this.term = p;
          throw new JsonSyntaxError(`Character with value 0x${c.toString(16).padStart(2, '0')} must be escaped.`);
        }
        if (chunkStart < 0) chunkStart = p;
      }
    }
    flush(p);
    if (hi !== -1) {
      this.term = p + 1;
      throw new JsonSyntaxError('Unicode low surrogate must follow a high surrogate.');
    }
    this.tok = 'string';
    this.value = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    this.term = p + 1;
    this.pos = p + 1;
  }
}

/** Walks `input` as jsonapi's recursive-descent parser does, calling `ev` on the way. */
export function walkJson(input: Buffer, ev: JsonEvents): void {
  const lex = new Lexer(input);
  let depth = 0;

  // lex.tok changes under calls; read it through a function so the compiler does not narrow it.
  const tok = (): Tok => lex.tok;
  const expect = (ctx: Ctx, t: Tok): void => {
    if (tok() !== t) lex.expected(ctx);
    lex.next();
  };

  const scalar = (): void => {
    const t = lex.tok;
    if (t !== 'string' && t !== 'number' && t !== 'true' && t !== 'false' && t !== 'null') lex.expected('VALUE');
    const v = lex.value;
    lex.next();
    ev.scalar(v, t as JsonScalarType);
  };

  const value = (): void => {
    if (lex.tok === '{') object();
    else if (lex.tok === '[') array();
    else scalar();
  };

  const field = (): void => {
    if (lex.tok !== 'string') lex.expected('STRING');
    const name = lex.value.toString('utf8');
    lex.next();
    expect('OBJECT_LABEL', ':');
    ev.fieldStart(name);
    value();
  };

  const object = (): void => {
    if (++depth > MAX_DEPTH) throw new JsonSyntaxError('JSON nested too deep, maximum permitted depth is 6400.');
    ev.objectStart();
    lex.next();
    if (lex.tok === 'string') {
      field();
      while (tok() === ',') {
        lex.next();
        field();
      }
    } else if (tok() !== '}') lex.expected('OBJECT_START');
    expect('OBJECT_NEXT', '}');
    depth--;
    ev.objectEnd();
  };

  const array = (): void => {
    if (++depth > MAX_DEPTH) throw new JsonSyntaxError('JSON nested too deep, maximum permitted depth is 6400.');
    ev.arrayStart();
    lex.next();
    if (tok() !== ']') {
      value();
      while (tok() === ',') {
        lex.next();
        value();
      }
    }
    expect('ARRAY_NEXT', ']');
    depth--;
    ev.arrayEnd();
  };

  lex.next();
  value();
  if (tok() !== 'END') lex.expected('END');
}
