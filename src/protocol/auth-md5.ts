/**
 * The response to AuthenticationMD5Password: "md5" + md5hex(md5hex(password + user) + salt), as libpq's
 * pg_password_sendauth() computes it (pg_md5_encrypt twice).
 */
import { cryptoModule } from '../lazy-builtins.js';

function md5Hex(...parts: (string | Buffer)[]): string {
  const h = cryptoModule().createHash('md5');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** The "md5..." string to send in a PasswordMessage. */
export function md5PasswordResponse(user: string, password: string, salt: Buffer): string {
  const inner = md5Hex(Buffer.from(password, 'utf8'), Buffer.from(user, 'utf8'));
  return `md5${md5Hex(inner, salt)}`;
}
