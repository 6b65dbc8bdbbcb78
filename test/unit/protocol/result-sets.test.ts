import { describe, expect, it } from 'vitest';
import { ResultSetCollector } from '../../../src/protocol/result-sets.js';
import type { FieldDescription } from '../../../src/protocol/types.js';

const field = (name: string): FieldDescription => ({ name, tableOid: 0, columnAttr: 0, typeOid: 25, typeSize: -1, typeModifier: -1, format: 0 });

describe('ResultSetCollector', () => {
  it('groups rows by RowDescription and CommandComplete, decoding text', () => {
    const c = new ResultSetCollector();
    c.add({ kind: 'rowDescription', fields: [field('a')] });
    c.add({ kind: 'dataRow', values: [Buffer.from('é')] });
    c.add({ kind: 'dataRow', values: [null] });
    c.add({ kind: 'commandComplete', tag: 'SELECT 2' });
    c.add({ kind: 'commandComplete', tag: 'SET' });
    c.add({ kind: 'rowDescription', fields: [field('b')] }); // walsender result without CommandComplete
    c.add({ kind: 'dataRow', values: [Buffer.from('x')] });
    c.add({ kind: 'rowDescription', fields: [field('c')] });
    expect(c.finish()).toEqual([
      { fields: [field('a')], rows: [['é'], [null]], commandTag: 'SELECT 2' },
      { fields: [], rows: [], commandTag: 'SET' },
      { fields: [field('b')], rows: [['x']], commandTag: undefined },
      { fields: [field('c')], rows: [], commandTag: undefined },
    ]);
  });
});
