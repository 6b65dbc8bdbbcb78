/**
 * SSL negotiation on a freshly connected TCP socket (libpq's CONNECTION_SSL_STARTUP, initialize_SSL and
 * open_client_SSL): SSLRequest, the server's one-byte answer, then a TLS handshake over the same socket.
 *
 * Certificate files follow libpq: sslrootcert (default ~/.postgresql/root.crt, "system" = the default
 * trust store) — when present, the chain is verified whatever the sslmode; when absent, verify-ca and
 * verify-full fail.  sslcert/sslkey default to ~/.postgresql/postgresql.crt/.key and are used when the
 * certificate exists.  verify-full also checks the host name (peer-name-check.ts).
 *
 * Failures are ConnectionErrors with libpq's texts, without the "connection to server ..." prefix.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { isIP } from 'node:net';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { ConnectionError, strerror } from '../errors.js';
import { cryptoModule, tlsModule } from '../lazy-builtins.js';
import { socketFailureText, sslReason } from './connect-errors.js';
import { sslRequest } from './frontend-messages.js';
import { checkPeerName, parseSubjectAltName } from './peer-name-check.js';
import type { ConnectAttempt } from './types.js';

const ROOT_CERT_FILE = '.postgresql/root.crt';
const USER_CERT_FILE = '.postgresql/postgresql.crt';
const USER_KEY_FILE = '.postgresql/postgresql.key';
const DEFAULT_MIN_PROTOCOL = 'TLSv1.2';
const MAX_PROTOCOL = 'TLSv1.3';
const PROTOCOLS: Record<string, 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'> = {
  tlsv1: 'TLSv1',
  'tlsv1.1': 'TLSv1.1',
  'tlsv1.2': 'TLSv1.2',
  'tlsv1.3': 'TLSv1.3',
};

/** Send SSLRequest and read the server's single-byte answer ('S', 'N', 'E' ...) plus any bytes after it. */
export function requestSsl(socket: Socket): Promise<{ answer: number; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      cleanup();
      socket.pause();
      resolve({ answer: chunk[0] as number, rest: chunk.subarray(1) });
    };
    let socketError: Error | undefined;
    const onError = (e: Error) => {
      socketError = e;
    };
    const onClose = () => {
      cleanup();
      reject(new ConnectionError(socketFailureText(socketError)));
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.write(sslRequest());
  });
}

interface TlsMaterial {
  /** Verify the server's chain (a root certificate is available). */
  verify: boolean;
  options: ConnectionOptions;
}

/** initialize_SSL(): read root certificate, client certificate and key as libpq would. */
export function loadTlsMaterial(attempt: ConnectAttempt, homeDir: string): TlsMaterial {
  const options: ConnectionOptions = { rejectUnauthorized: false, checkServerIdentity: () => undefined, ALPNProtocols: ['postgresql'] };
  const minText = attempt.sslMinProtocolVersion || DEFAULT_MIN_PROTOCOL;
  const min = PROTOCOLS[minText.toLowerCase()];
  if (min === undefined) throw new ConnectionError(`invalid value "${minText}" for minimum SSL protocol version`);
  options.minVersion = min;

  const rootFile = attempt.sslRootCert || `${homeDir}/${ROOT_CERT_FILE}`;
  let verify = false;
  if (rootFile === 'system') {
    verify = true; // Node's bundled trust store (ca left undefined)
  } else if (exists(rootFile)) {
    try {
      options.ca = readFileSync(rootFile);
    } catch (e) {
      throw new ConnectionError(`could not read root certificate file "${rootFile}": ${strerror(e)}`);
    }
    verify = true;
  } else if (attempt.sslMode === 'verify-ca' || attempt.sslMode === 'verify-full') {
    throw new ConnectionError(
      `root certificate file "${rootFile}" does not exist\n` +
        "Either provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification.",
    );
  }

  const certFile = attempt.sslCert || `${homeDir}/${USER_CERT_FILE}`;
  let haveCert = false;
  try {
    statSync(certFile);
    haveCert = true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new ConnectionError(`could not open certificate file "${certFile}": ${strerror(e)}`);
  }
  if (haveCert) {
    try {
      options.cert = readFileSync(certFile);
    } catch (e) {
      throw new ConnectionError(`could not read certificate file "${certFile}": ${strerror(e)}`);
    }
    let x509: X509Certificate;
    try {
      x509 = new (cryptoModule().X509Certificate)(options.cert);
    } catch (e) {
      throw new ConnectionError(`could not read certificate file "${certFile}": ${errorReason(e)}`);
    }
    const keyFile = attempt.sslKey || `${homeDir}/${USER_KEY_FILE}`;
    const keyBytes = readKeyFile(keyFile);
    let key: KeyObject;
    try {
      key = cryptoModule().createPrivateKey(attempt.sslPassword ? { key: keyBytes, passphrase: attempt.sslPassword } : { key: keyBytes });
    } catch (e) {
      throw new ConnectionError(`could not load private key file "${keyFile}": ${errorReason(e)}`);
    }
    if (!x509.checkPrivateKey(key)) {
      throw new ConnectionError(`certificate does not match private key file "${keyFile}": key values mismatch`);
    }
    options.key = key.export({ format: 'pem', type: 'pkcs8' });
  }
  return { verify, options };
}

/** OpenSSL's reason text if present, else the message. */
function errorReason(e: unknown): string {
  return sslReason(e) ?? (e as Error).message;
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function readKeyFile(keyFile: string): Buffer {
  let st;
  try {
    st = statSync(keyFile);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ConnectionError(`certificate present, but not private key file "${keyFile}"`);
    throw new ConnectionError(`could not stat private key file "${keyFile}": ${strerror(e)}`);
  }
  if (!st.isFile()) throw new ConnectionError(`private key file "${keyFile}" is not a regular file`);
  const tooOpen = st.uid === 0 ? st.mode & 0o037 : st.mode & 0o077;
  if (tooOpen) {
    throw new ConnectionError(
      `private key file "${keyFile}" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root`,
    );
  }
  try {
    return readFileSync(keyFile);
  } catch (e) {
    throw new ConnectionError(`could not load private key file "${keyFile}": ${strerror(e)}`);
  }
}

/** Run the TLS handshake over `socket` (after the server answered 'S') and check the server's identity. */
export async function startTls(socket: Socket, attempt: ConnectAttempt, homeDir: string): Promise<TLSSocket> {
  const material = loadTlsMaterial(attempt, homeDir);
  const host = attempt.host;
  const servername = host !== '' && isIP(host) === 0 ? host : undefined;
  const tlsSocket = await new Promise<TLSSocket>((resolve, reject) => {
    let s: TLSSocket;
    try {
      s = tlsModule().connect({ ...material.options, socket, ...(servername ? { servername } : {}) });
    } catch (e) {
      reject(new ConnectionError(`could not create SSL context: ${errorReason(e)}`));
      return;
    }
    const onError = (e: Error) => {
      s.off('secureConnect', onSecure);
      s.destroy();
      reject(new ConnectionError(handshakeFailureText(e, attempt), { cause: e }));
    };
    const onSecure = () => {
      s.off('error', onError);
      resolve(s);
    };
    s.once('error', onError);
    s.once('secureConnect', onSecure);
  });
  // From here on, errors are reported by whoever reads the socket; keep one listener so none is unhandled.
  tlsSocket.on('error', () => undefined);
  if (material.verify && !tlsSocket.authorized) {
    tlsSocket.destroy();
    throw new ConnectionError('SSL error: certificate verify failed');
  }
  if (attempt.sslMode === 'verify-full') {
    const peer = tlsSocket.getPeerCertificate();
    const cn = peer.subject?.CN;
    const problem = checkPeerName(host, parseSubjectAltName(peer.subjectaltname), Array.isArray(cn) ? cn[0] : cn);
    if (problem !== undefined) {
      tlsSocket.destroy();
      throw new ConnectionError(problem);
    }
  }
  return tlsSocket;
}

/** open_client_SSL()'s texts for a failed handshake. */
function handshakeFailureText(err: Error, attempt: ConnectAttempt): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (/before secure TLS connection was established/.test(err.message)) return 'SSL SYSCALL error: EOF detected';
  if (code === 'ECONNRESET' || code === 'EPIPE') return `SSL SYSCALL error: ${strerror(err)}`;
  const reason = sslReason(err);
  if (reason === undefined) return `SSL error: ${err.message}`;
  let text = `SSL error: ${reason}`;
  if (/unsupported protocol|wrong version number|protocol version|no protocols available|version too (low|high)/i.test(reason)) {
    text +=
      `\nThis may indicate that the server does not support any SSL protocol version between ` +
      `${attempt.sslMinProtocolVersion || DEFAULT_MIN_PROTOCOL} and ${MAX_PROTOCOL}.`;
  }
  return text;
}
