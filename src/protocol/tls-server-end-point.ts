/**
 * Channel binding data of type "tls-server-end-point" (RFC 5929 section 4.1): the hash of the server's
 * DER certificate, with the hash function of the certificate's signature algorithm, except that MD5 and
 * SHA-1 are replaced by SHA-256.  libpq: pgtls_get_peer_certificate_hash().
 *
 * Node 20 does not expose a certificate's signature algorithm, so the AlgorithmIdentifier is read from
 * the DER (Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }).
 */
import { cryptoModule } from '../lazy-builtins.js';
import { ConnectionError } from '../errors.js';

const SIGNATURE_HASH: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'md5', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5': 'sha1', // sha1WithRSAEncryption
  '1.3.14.3.2.29': 'sha1', // sha1WithRSASignature (OIW)
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.10045.4.1': 'sha1', // ecdsa-with-SHA1
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.10040.4.3': 'sha1', // dsa-with-sha1
  '2.16.840.1.101.3.4.3.1': 'sha224', // dsa-with-sha224
  '2.16.840.1.101.3.4.3.2': 'sha256', // dsa-with-sha256
};

const HASH_OID: Record<string, string> = {
  '1.2.840.113549.2.5': 'md5',
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '2.16.840.1.101.3.4.2.4': 'sha224',
};

const RSASSA_PSS = '1.2.840.113549.1.1.10';
/** Pure EdDSA: OpenSSL reports no digest for these (NID_undef). */
const NO_DIGEST = new Set(['1.3.101.112', '1.3.101.113']);

interface Tlv {
  tag: number;
  start: number; // first content byte
  end: number; // one past the last content byte
}

function readTlv(der: Buffer, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) throw badCert();
  const tag = der[pos] as number;
  let len = der[pos + 1] as number;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) throw badCert();
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[start + i] as number);
    start += n;
  }
  if (start + len > limit) throw badCert();
  return { tag, start, end: start + len };
}

function decodeOid(der: Buffer, tlv: Tlv): string {
  if (tlv.tag !== 0x06 || tlv.end <= tlv.start) throw badCert();
  const first = der[tlv.start] as number;
  const parts = [Math.floor(first / 40), first % 40];
  let v = 0;
  for (let i = tlv.start + 1; i < tlv.end; i++) {
    const b = der[i] as number;
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

function badCert(): ConnectionError {
  return new ConnectionError('could not determine server certificate signature algorithm');
}

/** The hash algorithm (node:crypto name) of a DER certificate's signature, as OpenSSL reports it. */
export function certificateSignatureHash(der: Buffer): string {
  const cert = readTlv(der, 0, der.length);
  if (cert.tag !== 0x30) throw badCert();
  const tbs = readTlv(der, cert.start, cert.end);
  const algId = readTlv(der, tbs.end, cert.end);
  if (algId.tag !== 0x30) throw badCert();
  const oidTlv = readTlv(der, algId.start, algId.end);
  const oid = decodeOid(der, oidTlv);
  if (NO_DIGEST.has(oid)) throw new ConnectionError('could not find digest for NID UNDEF');
  if (oid === RSASSA_PSS) return pssHash(der, oidTlv.end, algId.end);
  const hash = SIGNATURE_HASH[oid];
  if (hash === undefined) throw badCert();
  return hash;
}

/** RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier DEFAULT sha1, ... } */
function pssHash(der: Buffer, pos: number, end: number): string {
  if (pos >= end) return 'sha1';
  const params = readTlv(der, pos, end);
  if (params.tag !== 0x30) throw badCert();
  if (params.start >= params.end) return 'sha1';
  const first = readTlv(der, params.start, params.end);
  if (first.tag !== 0xa0) return 'sha1';
  const hashAlg = readTlv(der, first.start, first.end);
  const hash = HASH_OID[decodeOid(der, readTlv(der, hashAlg.start, hashAlg.end))];
  if (hash === undefined) throw badCert();
  return hash;
}

/** The tls-server-end-point channel binding data for a DER server certificate. */
export function tlsServerEndPointHash(der: Buffer): Buffer {
  let hash = certificateSignatureHash(der);
  if (hash === 'md5' || hash === 'sha1') hash = 'sha256';
  return cryptoModule().createHash(hash).update(der).digest();
}
