/**
 * The client side of SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677), as libpq's
 * fe-auth-scram.c runs it: empty user name in the client-first-message (the server uses the startup
 * user), an 18-byte random nonce, SASLprep'ed password (raw password if SASLprep rejects it), GS2 flag
 * "p=tls-server-end-point" for -PLUS, "y" when the client could bind but the server did not offer
 * -PLUS over TLS, "n" otherwise.  The server signature is verified.
 *
 * Errors are ConnectionErrors whose messages are libpq's texts (the caller adds the host prefix).
 */
import { ConnectionError } from '../errors.js';
import { cryptoModule } from '../lazy-builtins.js';
import { saslprep } from './saslprep.js';

function pbkdf2Async(password: Buffer, salt: Buffer, iterations: number, keyLen: number, digest: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    cryptoModule().pbkdf2(password, salt, iterations, keyLen, digest, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';
export const SCRAM_SHA_256_PLUS = 'SCRAM-SHA-256-PLUS';
/** SCRAM_RAW_NONCE_LEN in scram-common.h. */
const RAW_NONCE_LEN = 18;
const KEY_LEN = 32;

export interface ScramOptions {
  password: string;
  mechanism: typeof SCRAM_SHA_256 | typeof SCRAM_SHA_256_PLUS;
  /** tls-server-end-point data (the certificate hash); required for -PLUS. */
  channelBindingData?: Buffer | undefined;
  /** TLS is in use and channel_binding is not "disable": flag "y" when not using -PLUS. */
  clientSupportsChannelBinding?: boolean;
  /** Tests only: a fixed client nonce and user name (libpq always sends an empty one). */
  nonce?: string;
  username?: string;
}

type State = 'init' | 'nonce-sent' | 'proof-sent' | 'finished';

export class ScramClient {
  private state: State = 'init';
  private readonly clientNonce: string;
  private readonly gs2Header: string;
  private readonly clientFirstBare: string;
  private serverFirst = '';
  private clientFinalWithoutProof = '';
  private saltedPassword: Buffer | undefined;

  constructor(private readonly opts: ScramOptions) {
    this.clientNonce = opts.nonce ?? cryptoModule().randomBytes(RAW_NONCE_LEN).toString('base64');
    if (opts.mechanism === SCRAM_SHA_256_PLUS) {
      if (opts.channelBindingData === undefined) throw new ConnectionError('could not encode cbind data for channel binding');
      this.gs2Header = 'p=tls-server-end-point,,';
    } else {
      this.gs2Header = opts.clientSupportsChannelBinding ? 'y,,' : 'n,,';
    }
    this.clientFirstBare = `n=${opts.username ?? ''},r=${this.clientNonce}`;
  }

  /** True once a -PLUS exchange has been completed and verified. */
  get channelBound(): boolean {
    return this.state === 'finished' && this.opts.mechanism === SCRAM_SHA_256_PLUS;
  }

  get finished(): boolean {
    return this.state === 'finished';
  }

  /** The SASLInitialResponse data. */
  clientFirstMessage(): string {
    if (this.state !== 'init') throw new ConnectionError('invalid SCRAM exchange state');
    this.state = 'nonce-sent';
    return this.gs2Header + this.clientFirstBare;
  }

  /** Consume the server-first-message (AuthenticationSASLContinue); returns the client-final-message. */
  async handleServerFirst(input: string): Promise<string> {
    if (this.state !== 'nonce-sent') throw new ConnectionError('invalid SCRAM exchange state');
    checkInput(input);
    this.serverFirst = input;
    const attrs = new AttrReader(input);
    const nonce = attrs.read('r');
    if (!nonce.startsWith(this.clientNonce)) throw new ConnectionError('invalid SCRAM response (nonce mismatch)');
    const saltText = attrs.read('s');
    if (!isBase64(saltText)) throw new ConnectionError('malformed SCRAM message (invalid salt)');
    const iterText = attrs.read('i');
    // strtol(): optional leading white space and sign, digits, nothing after.
    const iterations = /^\s*[+-]?\d+$/.test(iterText) ? Number.parseInt(iterText, 10) : Number.NaN;
    if (!(iterations >= 1)) throw new ConnectionError('malformed SCRAM message (invalid iteration count)');
    // libpq notes "garbage at end of server-first-message" without failing; so do we (ignore it).

    const password = saslprep(this.opts.password) ?? this.opts.password;
    this.saltedPassword = await pbkdf2Async(Buffer.from(password, 'utf8'), Buffer.from(saltText, 'base64'), iterations, KEY_LEN, 'sha256');

    const cbindInput =
      this.opts.mechanism === SCRAM_SHA_256_PLUS
        ? Buffer.concat([Buffer.from(this.gs2Header), this.opts.channelBindingData as Buffer])
        : Buffer.from(this.gs2Header);
    this.clientFinalWithoutProof = `c=${cbindInput.toString('base64')},r=${nonce}`;

    const clientKey = hmac(this.saltedPassword, 'Client Key');
    const storedKey = cryptoModule().createHash('sha256').update(clientKey).digest();
    const signature = hmac(storedKey, this.authMessage());
    const proof = Buffer.alloc(KEY_LEN);
    for (let i = 0; i < KEY_LEN; i++) proof[i] = (clientKey[i] as number) ^ (signature[i] as number);
    this.state = 'proof-sent';
    return `${this.clientFinalWithoutProof},p=${proof.toString('base64')}`;
  }

  /** Consume the server-final-message (AuthenticationSASLFinal) and verify the server signature. */
  handleServerFinal(input: string): void {
    if (this.state !== 'proof-sent') {
      throw new ConnectionError('AuthenticationSASLFinal received from server, but SASL authentication was not completed');
    }
    checkInput(input);
    const attrs = new AttrReader(input);
    if (input.startsWith('e')) {
      throw new ConnectionError(`error received from server in SCRAM exchange: ${attrs.read('e')}`);
    }
    const sigText = attrs.read('v');
    const received = isBase64(sigText) ? Buffer.from(sigText, 'base64') : Buffer.alloc(0);
    if (received.length !== KEY_LEN) throw new ConnectionError('malformed SCRAM message (invalid server signature)');
    const serverKey = hmac(this.saltedPassword as Buffer, 'Server Key');
    const expected = hmac(serverKey, this.authMessage());
    this.state = 'finished';
    if (!cryptoModule().timingSafeEqual(expected, received)) throw new ConnectionError('incorrect server signature');
  }

  private authMessage(): string {
    return `${this.clientFirstBare},${this.serverFirst},${this.clientFinalWithoutProof}`;
  }
}

function hmac(key: Buffer, data: string): Buffer {
  return cryptoModule().createHmac('sha256', key).update(data, 'utf8').digest();
}

function checkInput(input: string): void {
  if (input.length === 0) throw new ConnectionError('malformed SCRAM message (empty message)');
  if (input.includes('\0')) throw new ConnectionError('malformed SCRAM message (length mismatch)');
}

function isBase64(s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}

/** read_attr_value(): "a=value" items separated by commas, in a fixed order. */
class AttrReader {
  private pos = 0;
  constructor(private readonly input: string) {}

  read(attr: string): string {
    if (this.input[this.pos] !== attr) throw new ConnectionError(`malformed SCRAM message (attribute "${attr}" expected)`);
    if (this.input[this.pos + 1] !== '=') {
      throw new ConnectionError(`malformed SCRAM message (expected character "=" for attribute "${attr}")`);
    }
    const start = this.pos + 2;
    const comma = this.input.indexOf(',', start);
    const end = comma < 0 ? this.input.length : comma;
    this.pos = comma < 0 ? end : comma + 1;
    return this.input.slice(start, end);
  }
}
