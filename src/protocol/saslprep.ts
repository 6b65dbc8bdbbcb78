/**
 * SASLprep (RFC 4013, the "SASLprep" profile of stringprep, RFC 3454) for SCRAM passwords, following
 * PostgreSQL's pg_saslprep(): pure-ASCII input is returned unchanged; otherwise map non-ASCII spaces to
 * U+0020, drop "commonly mapped to nothing" characters, normalize NFKC, then reject prohibited output,
 * unassigned code points and strings breaking the bidi rule.
 *
 * The prohibited and mapping tables are RFC 3454's.  Two approximations (a "reasonable subset"):
 * unassigned code points use the running Unicode version's General_Category=Cn instead of
 * Unicode 3.2's table A.1, and the bidi categories R/AL and L are approximated by letters inside and
 * outside the right-to-left blocks.
 *
 * Returns undefined when the result is prohibited; libpq then uses the raw password (so does the server).
 */

type Range = readonly [number, number];

/** C.1.2: non-ASCII space characters, mapped to U+0020. */
const NON_ASCII_SPACE: Range[] = [
  [0x00a0, 0x00a0], [0x1680, 0x1680], [0x2000, 0x200b], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000],
];

/** B.1: commonly mapped to nothing. */
const MAPPED_TO_NOTHING: Range[] = [
  [0x00ad, 0x00ad], [0x034f, 0x034f], [0x1806, 0x1806], [0x180b, 0x180d], [0x200b, 0x200d], [0x2060, 0x2060],
  [0xfe00, 0xfe0f], [0xfeff, 0xfeff],
];

/** C.1.2, C.2.1, C.2.2, C.3, C.4 (FDD0-FDEF; the xFFFE/xFFFF ones are checked apart), C.5-C.9. */
const PROHIBITED: Range[] = [
  ...NON_ASCII_SPACE,
  [0x0000, 0x001f], [0x007f, 0x009f], // C.2.1, C.2.2
  [0x06dd, 0x06dd], [0x070f, 0x070f], [0x180e, 0x180e], [0x200c, 0x200d], [0x2028, 0x2029],
  [0x2060, 0x2063], [0x206a, 0x206f], [0xfeff, 0xfeff], [0xfff9, 0xfffc], [0x1d173, 0x1d17a],
  [0xe000, 0xf8ff], [0xf0000, 0xffffd], [0x100000, 0x10fffd], // C.3 private use
  [0xfdd0, 0xfdef], // C.4
  [0xd800, 0xdfff], // C.5 surrogates
  [0xfff9, 0xfffd], // C.6
  [0x2ff0, 0x2ffb], // C.7
  [0x0340, 0x0341], [0x200e, 0x200f], [0x202a, 0x202e], // C.8
  [0xe0001, 0xe0001], [0xe0020, 0xe007f], // C.9
];

/** Blocks whose letters are right-to-left (bidi R or AL). */
const RTL_BLOCKS: Range[] = [
  [0x0590, 0x08ff], [0xfb1d, 0xfdff], [0xfe70, 0xfefe], [0x10800, 0x10fff], [0x1e800, 0x1efff],
];

function inRanges(cp: number, ranges: readonly Range[]): boolean {
  for (const [lo, hi] of ranges) if (cp >= lo && cp <= hi) return true;
  return false;
}

const LETTER = /\p{L}/u;
const UNASSIGNED = /\p{Cn}/u;

function isRandAL(cp: number): boolean {
  return inRanges(cp, RTL_BLOCKS) && LETTER.test(String.fromCodePoint(cp));
}

function isL(cp: number): boolean {
  return !inRanges(cp, RTL_BLOCKS) && LETTER.test(String.fromCodePoint(cp));
}

function isProhibited(cp: number): boolean {
  if (inRanges(cp, PROHIBITED)) return true;
  if ((cp & 0xfffe) === 0xfffe) return true; // C.4: U+xFFFE and U+xFFFF in every plane
  return UNASSIGNED.test(String.fromCodePoint(cp));
}

/** SASLprep a password; undefined if the result would contain prohibited characters. */
export function saslprep(input: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(input)) return input;

  let mapped = '';
  for (const ch of input) {
    const cp = ch.codePointAt(0) as number;
    if (inRanges(cp, NON_ASCII_SPACE)) mapped += ' ';
    else if (!inRanges(cp, MAPPED_TO_NOTHING)) mapped += ch;
  }
  const normalized = mapped.normalize('NFKC');

  const cps = Array.from(normalized, (ch) => ch.codePointAt(0) as number);
  if (cps.some(isProhibited)) return undefined;

  // Bidi rule (RFC 3454 section 6).
  if (cps.some(isRandAL)) {
    if (cps.some(isL)) return undefined;
    const first = cps[0] as number;
    const last = cps[cps.length - 1] as number;
    if (!isRandAL(first) || !isRandAL(last)) return undefined;
  }
  return normalized;
}
