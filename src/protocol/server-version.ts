/**
 * PQserverVersion(): the numeric server version computed, as libpq does, from the server_version
 * ParameterStatus ("15.18" → 150018, "18beta1" → 180000, "9.6.24" → 90624).
 */

export function parseServerVersionNum(serverVersion: string): number {
  // Like sscanf("%d.%d.%d"): leading integers separated by dots, anything may follow.
  const m = /^\s*([+-]?\d+)(?:\.([+-]?\d+)(?:\.([+-]?\d+))?)?/.exec(serverVersion);
  if (!m) return 0;
  const major = Number(m[1]);
  if (m[3] !== undefined) return (100 * major + Number(m[2])) * 100 + Number(m[3]);
  if (m[2] !== undefined) {
    const minor = Number(m[2]);
    return major >= 10 ? 100 * 100 * major + minor : (100 * major + minor) * 100;
  }
  return 100 * 100 * major;
}
