/**
 * The -R text (recovery_gen.c GenerateRecoveryConfig, servers 12+): lines appended to
 * postgresql.auto.conf.  Values are quoted for the configuration file: ' and \ doubled.
 */

function escapeConfValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/'/g, "''");
}

export function buildRecoveryConfig(primaryConnInfo: string, slot: string | undefined): string {
  let text = `primary_conninfo = '${escapeConfValue(primaryConnInfo)}'\n`;
  if (slot !== undefined) text += `primary_slot_name = '${escapeConfValue(slot)}'\n`;
  return text;
}
