/**
 * Issue 3 end to end against PostgreSQL 17: plain and tar backups of a cluster with data checksums, a
 * second tablespace and ~220 MB of tables, checked and restored (see test/support/backup-core-suite.ts).
 */
import { defineCoreSuite } from '../support/backup-core-suite.js';

defineCoreSuite(17);
