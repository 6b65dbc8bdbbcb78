/**
 * Reading a backup_manifest (versions 1 and 2) as PostgreSQL's src/common/parse_manifest.c does:
 * the same field order rules, the same checks, the same manifest checksum (SHA-256 of every byte
 * up to and including the newline that ends the second-to-last line), and the same error texts.
 *
 * ManifestParseError.message is the COMPLETE text pg prints after "error: ", e.g.
 *   could not parse backup manifest: missing size
 *   could not parse backup manifest: Expected "," or "}", but found "x".
 *   manifest checksum mismatch
 *   unrecognized checksum algorithm: "MD5"
 * so a command prints `<prog>: error: ${e.message}` as it is.
 */
import { cryptoModule } from '../lazy-builtins.js';
import type { Lsn, TimeLineId } from '../lsn.js';
import { parseChecksumAlgorithm, type ChecksumAlgorithm } from './checksum.js';
import { JsonSyntaxError, walkJson, type JsonEvents } from './json-events.js';

export interface ManifestFile {
  /** The path as text (UTF-8 decoded; an Encoded-Path is decoded from hex first). */
  path: string;
  /** The path's exact bytes. */
  pathBytes: Buffer;
  /** True when the manifest gave it as a hex Encoded-Path. */
  encodedPath: boolean;
  size: number;
  lastModified: string | undefined;
  checksumAlgorithm: ChecksumAlgorithm;
  /** Lower-case hex as found in the manifest ('' when there is none). */
  checksum: string;
}

export interface ManifestWalRange {
  timeline: TimeLineId;
  startLsn: Lsn;
  endLsn: Lsn;
}

export interface BackupManifest {
  version: 1 | 2;
  systemIdentifier: bigint | undefined;
  files: ManifestFile[];
  walRanges: ManifestWalRange[];
  /** Lower-case hex of the Manifest-Checksum field. */
  manifestChecksum: string;
}

/** Callbacks run while parsing, in document order (as pg's per-file callbacks); they may throw. */
export interface ManifestParseHooks {
  onVersion?(version: 1 | 2): void;
  onSystemIdentifier?(id: bigint): void;
  onFile?(file: ManifestFile): void;
  onWalRange?(range: ManifestWalRange): void;
}

export class ManifestParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestParseError';
  }
}

function failure(msg: string): never {
  throw new ManifestParseError(`could not parse backup manifest: ${msg}`);
}

/** strtoul/strtoi64 as C reads them: leading blanks, a sign, digits; `ok` is false if anything follows. */
function cInteger(text: string): { value: bigint; ok: boolean } {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d*)/.exec(text) as RegExpExecArray;
  const digits = m[2] as string;
  if (digits === '') return { value: 0n, ok: text === '' };
  const v = BigInt(digits);
  return { value: m[1] === '-' ? -v : v, ok: m[0].length === text.length };
}

/** sscanf("%X/%X") as parse_xlogrecptr uses it (leading blanks and 0x prefixes allowed, anything may follow). */
function scanLsn(text: string): Lsn | undefined {
  const m = /^\s*[+]?(?:0[xX])?([0-9A-Fa-f]+)\/\s*[+]?(?:0[xX])?([0-9A-Fa-f]+)/.exec(text);
  if (!m) return undefined;
  const hi = BigInt(`0x${m[1]}`) & 0xffffffffn;
  const lo = BigInt(`0x${m[2]}`) & 0xffffffffn;
  return (hi << 32n) | lo;
}

function isHex(text: string): boolean {
  return text.length % 2 === 0 && /^[0-9A-Fa-f]*$/.test(text);
}

function hexDecode(text: string): Buffer | undefined {
  return isHex(text) ? Buffer.from(text, 'hex') : undefined;
}

type State =
  | 'TOPLEVEL_START' | 'TOPLEVEL_END' | 'TOPLEVEL_FIELD' | 'VERSION_VALUE' | 'SYSTEM_IDENTIFIER_VALUE'
  | 'FILES_START' | 'FILES_NEXT' | 'THIS_FILE_FIELD' | 'THIS_FILE_VALUE'
  | 'WAL_RANGES_START' | 'WAL_RANGES_NEXT' | 'THIS_WAL_RANGE_FIELD' | 'THIS_WAL_RANGE_VALUE'
  | 'MANIFEST_CHECKSUM_VALUE' | 'EOF';

const FILE_FIELDS = ['Path', 'Encoded-Path', 'Size', 'Last-Modified', 'Checksum-Algorithm', 'Checksum'] as const;
const WAL_FIELDS = ['Timeline', 'Start-LSN', 'End-LSN'] as const;

/** Parses and checks a whole manifest.  Throws ManifestParseError with pg's text. */
export function parseManifest(bytes: Buffer, hooks: ManifestParseHooks = {}): BackupManifest {
  let state: State = 'TOPLEVEL_START';
  let sawVersion = false;
  let version: 1 | 2 = 1;
  let systemIdentifier: bigint | undefined;
  let manifestChecksum: string | undefined;
  const files: ManifestFile[] = [];
  const walRanges: ManifestWalRange[] = [];
  let fileField: (typeof FILE_FIELDS)[number] = 'Path';
  let walField: (typeof WAL_FIELDS)[number] = 'Timeline';
  let fileValues = new Map<string, Buffer>();
  let walValues = new Map<string, string>();

  const finalizeFile = (): void => {
    const pathname = fileValues.get('Path');
    const encoded = fileValues.get('Encoded-Path');
    const size = fileValues.get('Size');
    const algorithm = fileValues.get('Checksum-Algorithm');
    const checksum = fileValues.get('Checksum');
    if (pathname === undefined && encoded === undefined) failure('missing path name');
    if (pathname !== undefined && encoded !== undefined) failure('both path name and encoded path name');
    if (size === undefined) failure('missing size');
    if (algorithm === undefined && checksum !== undefined) failure('checksum without algorithm');
    let pathBytes = pathname as Buffer;
    if (encoded !== undefined) {
      const raw = hexDecode(encoded.toString('latin1'));
      if (!raw) failure('could not decode file name');
      pathBytes = raw;
    }
    const path = pathBytes.toString('utf8');
    const sz = cInteger(size.toString('latin1'));
    if (!sz.ok) failure('file size is not an integer');
    let checksumAlgorithm: ChecksumAlgorithm = 'NONE';
    if (algorithm !== undefined) {
      const a = parseChecksumAlgorithm(algorithm.toString('utf8'));
      if (!a) throw new ManifestParseError(`unrecognized checksum algorithm: "${algorithm.toString('utf8')}"`);
      checksumAlgorithm = a;
    }
    const checksumText = checksum === undefined ? '' : checksum.toString('utf8');
    if (checksumText !== '' && !isHex(checksumText)) {
      throw new ManifestParseError(`invalid checksum for file "${path}": "${checksumText}"`);
    }
    const lm = fileValues.get('Last-Modified');
    const file: ManifestFile = {
      path,
      pathBytes,
      encodedPath: encoded !== undefined,
      size: Number(BigInt.asUintN(64, sz.value)),
      lastModified: lm?.toString('utf8'),
      checksumAlgorithm,
      checksum: checksumText.toLowerCase(),
    };
    files.push(file);
    hooks.onFile?.(file);
  };

  const finalizeWalRange = (): void => {
    const tli = walValues.get('Timeline');
    const start = walValues.get('Start-LSN');
    const end = walValues.get('End-LSN');
    if (tli === undefined) failure('missing timeline');
    if (start === undefined) failure('missing start LSN');
    if (end === undefined) failure('missing end LSN');
    const t = cInteger(tli);
    if (!t.ok) failure('timeline is not an integer');
    const startLsn = scanLsn(start);
    if (startLsn === undefined) failure('could not parse start LSN');
    const endLsn = scanLsn(end);
    if (endLsn === undefined) failure('could not parse end LSN');
    const range = { timeline: Number(BigInt.asUintN(32, t.value)), startLsn, endLsn };
    walRanges.push(range);
    hooks.onWalRange?.(range);
  };

  const ev: JsonEvents = {
    objectStart() {
      if (state === 'TOPLEVEL_START') state = 'TOPLEVEL_FIELD';
      else if (state === 'FILES_NEXT') {
        state = 'THIS_FILE_FIELD';
        fileValues = new Map();
      } else if (state === 'WAL_RANGES_NEXT') {
        state = 'THIS_WAL_RANGE_FIELD';
        walValues = new Map();
      } else failure('unexpected object start');
    },
    objectEnd() {
      if (state === 'TOPLEVEL_END') state = 'EOF';
      else if (state === 'THIS_FILE_FIELD') {
        finalizeFile();
        state = 'FILES_NEXT';
      } else if (state === 'THIS_WAL_RANGE_FIELD') {
        finalizeWalRange();
        state = 'WAL_RANGES_NEXT';
      } else failure('unexpected object end');
    },
    arrayStart() {
      if (state === 'FILES_START') state = 'FILES_NEXT';
      else if (state === 'WAL_RANGES_START') state = 'WAL_RANGES_NEXT';
      else failure('unexpected array start');
    },
    arrayEnd() {
      if (state === 'FILES_NEXT' || state === 'WAL_RANGES_NEXT') state = 'TOPLEVEL_FIELD';
      else failure('unexpected array end');
    },
    fieldStart(name) {
      if (state === 'TOPLEVEL_FIELD') {
        if (!sawVersion) {
          if (name !== 'PostgreSQL-Backup-Manifest-Version') failure('expected version indicator');
          state = 'VERSION_VALUE';
          sawVersion = true;
        } else if (name === 'System-Identifier') state = 'SYSTEM_IDENTIFIER_VALUE';
        else if (name === 'Files') state = 'FILES_START';
        else if (name === 'WAL-Ranges') state = 'WAL_RANGES_START';
        else if (name === 'Manifest-Checksum') state = 'MANIFEST_CHECKSUM_VALUE';
        else failure('unrecognized top-level field');
      } else if (state === 'THIS_FILE_FIELD') {
        const f = FILE_FIELDS.find((x) => x === name);
        if (!f) failure('unexpected file field');
        fileField = f;
        state = 'THIS_FILE_VALUE';
      } else if (state === 'THIS_WAL_RANGE_FIELD') {
        const f = WAL_FIELDS.find((x) => x === name);
        if (!f) failure('unexpected WAL range field');
        walField = f;
        state = 'THIS_WAL_RANGE_VALUE';
      } else failure('unexpected object field');
    },
    scalar(value) {
      switch (state) {
        case 'VERSION_VALUE': {
          const v = cInteger(value.toString('latin1'));
          if (!v.ok) failure('manifest version not an integer');
          if (v.value !== 1n && v.value !== 2n) failure('unexpected manifest version');
          version = Number(v.value) as 1 | 2;
          hooks.onVersion?.(version);
          state = 'TOPLEVEL_FIELD';
          break;
        }
        case 'SYSTEM_IDENTIFIER_VALUE': {
          const v = cInteger(value.toString('latin1'));
          if (!v.ok) failure('manifest system identifier not an integer');
          systemIdentifier = BigInt.asUintN(64, v.value);
          hooks.onSystemIdentifier?.(systemIdentifier);
          state = 'TOPLEVEL_FIELD';
          break;
        }
        case 'THIS_FILE_VALUE':
          fileValues.set(fileField, value); // a view of the input (or a decoded string's own buffer)
          state = 'THIS_FILE_FIELD';
          break;
        case 'THIS_WAL_RANGE_VALUE':
          walValues.set(walField, value.toString('utf8'));
          state = 'THIS_WAL_RANGE_FIELD';
          break;
        case 'MANIFEST_CHECKSUM_VALUE':
          manifestChecksum = value.toString('utf8');
          state = 'TOPLEVEL_END';
          break;
        default:
          failure('unexpected scalar');
      }
    },
  };

  try {
    walkJson(bytes, ev);
  } catch (e) {
    if (e instanceof JsonSyntaxError) failure(e.message);
    throw e;
  }
  if ((state as State) !== 'EOF') failure('manifest ended unexpectedly');
  verifyManifestChecksum(bytes, manifestChecksum);
  return { version, systemIdentifier, files, walRanges, manifestChecksum: (manifestChecksum as string).toLowerCase() };
}

/** The SHA-256 over everything before the last line, compared with the Manifest-Checksum field. */
function verifyManifestChecksum(bytes: Buffer, expected: string | undefined): void {
  let newlines = 0;
  let ultimate = -1;
  let penultimate = -1;
  for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) {
    newlines++;
    penultimate = ultimate;
    ultimate = i;
  }
  if (newlines < 2) failure('expected at least 2 lines');
  if (ultimate !== bytes.length - 1) failure('last line not newline-terminated');
  const actual = cryptoModule().createHash('sha256').update(bytes.subarray(0, penultimate + 1)).digest();
  if (expected === undefined) throw new ManifestParseError('manifest has no checksum');
  const want = expected.length === 64 ? hexDecode(expected) : undefined;
  if (!want) throw new ManifestParseError(`invalid manifest checksum: "${expected}"`);
  if (!actual.equals(want)) throw new ManifestParseError('manifest checksum mismatch');
}

/** The SHA-256 hex a manifest's last line must carry for `body` (every line but the last). */
export function manifestChecksumOf(body: Buffer | string): string {
  return cryptoModule().createHash('sha256').update(body).digest('hex');
}
