import { describe, expect, it } from 'vitest';
import { formatUuidV4, randomUuid } from '../../src/random-uuid.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('randomUuid', () => {
  it('sets the version and variant bits and keeps the other 122 bits', () => {
    expect(formatUuidV4(Buffer.alloc(16, 0xff))).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff');
    expect(formatUuidV4(Buffer.alloc(16, 0x00))).toBe('00000000-0000-4000-8000-000000000000');
    const b = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    expect(formatUuidV4(b)).toBe('00112233-4455-4677-8899-aabbccddeeff');
    expect(b.toString('hex')).toBe('00112233445566778899aabbccddeeff'); // the caller's bytes are left alone
  });

  it('gives version 4 UUIDs that do not repeat', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const u = randomUuid();
      expect(u).toMatch(V4);
      seen.add(u);
    }
    expect(seen.size).toBe(2000);
  });
});
