/**
 * Collect the events of one simple query into ResultSets (like the PGresults PQexec would give).
 * A result set starts at RowDescription and ends at CommandComplete (or at the next RowDescription /
 * the end of the query, for walsender results that have no CommandComplete of their own); a
 * CommandComplete without rows (e.g. DROP_REPLICATION_SLOT) is a result set without fields.
 */
import type { BackendEvent, ResultSet } from './types.js';

export class ResultSetCollector {
  readonly results: ResultSet[] = [];
  private current: ResultSet | undefined;

  add(ev: BackendEvent): void {
    switch (ev.kind) {
      case 'rowDescription':
        this.flush();
        this.current = { fields: ev.fields, rows: [], commandTag: undefined };
        break;
      case 'dataRow': {
        this.current ??= { fields: [], rows: [], commandTag: undefined };
        this.current.rows.push(ev.values.map((v) => (v === null ? null : v.toString('utf8'))));
        break;
      }
      case 'commandComplete':
        (this.current ??= { fields: [], rows: [], commandTag: undefined }).commandTag = ev.tag;
        this.flush();
        break;
      default:
        break;
    }
  }

  /** Close any open result set and return all of them. */
  finish(): ResultSet[] {
    this.flush();
    return this.results;
  }

  private flush(): void {
    if (this.current !== undefined) this.results.push(this.current);
    this.current = undefined;
  }
}
