/**
 * The C library number parsers pg's option code relies on, with their exact acceptance rules (C locale):
 * strtol(3) with base 10 and strtod(3).  Each returns the value and the index where parsing stopped
 * (`endptr`), plus whether errno would be ERANGE.
 */

export interface StrtoResult {
  value: number;
  /** Index of the first unparsed character; 0 when nothing was parsed (C sets endptr = nptr). */
  end: number;
  /** errno == ERANGE after the call. */
  erange: boolean;
}

/** strtol's result also as the exact 64-bit long. */
export interface StrtolResult extends StrtoResult {
  exact: bigint;
}

const LONG_MAX = 2n ** 63n - 1n;
const LONG_MIN = -(2n ** 63n);
const DBL_MIN = 2.2250738585072014e-308;

/** isspace() in the C locale. */
export function isCSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\v' || ch === '\f' || ch === '\r';
}

function skipSpaceAndSign(s: string): { i: number; negative: boolean } {
  let i = 0;
  while (isCSpace(s[i])) i++;
  let negative = false;
  if (s[i] === '+' || s[i] === '-') {
    negative = s[i] === '-';
    i++;
  }
  return { i, negative };
}

/**
 * strtol(s, &end, 10) for a 64-bit long (`value` rounded to a double, `exact` as is).  Out of range
 * saturates at LONG_MIN/LONG_MAX with ERANGE.
 */
export function strtol(s: string): StrtolResult {
  const { i: start, negative } = skipSpaceAndSign(s);
  let i = start;
  while (i < s.length && s[i]! >= '0' && s[i]! <= '9') i++;
  if (i === start) return { value: 0, exact: 0n, end: 0, erange: false };
  let big = BigInt(s.slice(start, i));
  if (negative) big = -big;
  let erange = false;
  if (big > LONG_MAX) {
    big = LONG_MAX;
    erange = true;
  } else if (big < LONG_MIN) {
    big = LONG_MIN;
    erange = true;
  }
  return { value: Number(big), exact: big, end: i, erange };
}

/** strtoint() of src/common/string.c: strtol, then ERANGE if the result does not fit an int. */
export function strtoint(s: string): StrtoResult {
  const r = strtol(s);
  const asInt = BigInt.asIntN(32, r.exact);
  return { value: Number(asInt), end: r.end, erange: r.erange || asInt !== r.exact };
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= '0' && ch <= '9';
}

function isHexDigit(ch: string | undefined): boolean {
  return ch !== undefined && /^[0-9a-fA-F]$/.test(ch);
}

/** Length of an exponent part (`e[+-]digits` / `p[+-]digits`) at s[i], or 0 if there is none. */
function exponentLength(s: string, i: number, marker: RegExp): number {
  if (!marker.test(s[i] ?? '')) return 0;
  let j = i + 1;
  if (s[j] === '+' || s[j] === '-') j++;
  if (!isDigit(s[j])) return 0;
  while (isDigit(s[j])) j++;
  return j - i;
}

function parseHexFloat(s: string, i: number): { value: number; end: number; nonZero: boolean } | undefined {
  let j = i;
  let mantissa = 0n;
  let fractionDigits = 0;
  let digits = 0;
  while (isHexDigit(s[j])) {
    mantissa = mantissa * 16n + BigInt(parseInt(s[j]!, 16));
    j++;
    digits++;
  }
  if (s[j] === '.') {
    j++;
    while (isHexDigit(s[j])) {
      mantissa = mantissa * 16n + BigInt(parseInt(s[j]!, 16));
      j++;
      digits++;
      fractionDigits++;
    }
  }
  if (digits === 0) return undefined;
  let exponent = -4 * fractionDigits;
  const expLen = exponentLength(s, j, /^[pP]$/);
  if (expLen > 0) exponent += Number(s.slice(j + 1, j + expLen));
  j += expLen;
  return { value: Number(mantissa) * 2 ** exponent, end: j, nonZero: mantissa !== 0n };
}

/** strtod(s, &end) in the C locale: decimal and hexadecimal forms, inf, infinity, nan, nan(...). */
export function strtod(s: string): StrtoResult {
  const { i, negative } = skipSpaceAndSign(s);
  const sign = negative ? -1 : 1;
  const rest = s.slice(i);
  const special = /^(infinity|inf|nan(\([0-9A-Za-z_]*\))?)/i.exec(rest);
  if (special !== null) {
    const word = special[0];
    const value = /^n/i.test(word) ? NaN : sign * Infinity;
    return { value, end: i + word.length, erange: false };
  }
  let parsed: { value: number; end: number; nonZero: boolean } | undefined;
  if (/^0[xX]/.test(rest)) parsed = parseHexFloat(s, i + 2);
  if (parsed === undefined) {
    let j = i;
    let digits = 0;
    let nonZero = false;
    const digit = (): void => {
      if (s[j] !== '0') nonZero = true;
      j++;
      digits++;
    };
    while (isDigit(s[j])) digit();
    if (s[j] === '.') {
      j++;
      while (isDigit(s[j])) digit();
    }
    if (digits === 0) {
      // "0x" without hex digits still parses the "0".
      return /^0[xX]/.test(rest) ? { value: 0, end: i + 1, erange: false } : { value: 0, end: 0, erange: false };
    }
    j += exponentLength(s, j, /^[eE]$/);
    parsed = { value: Number(s.slice(i, j)), end: j, nonZero };
  }
  const magnitude = parsed.value;
  const erange = !Number.isFinite(magnitude) || (parsed.nonZero && magnitude < DBL_MIN);
  return { value: sign * magnitude, end: parsed.end, erange };
}
