/**
 * pg-basebackup as a library: `import { baseBackup } from 'pg-basebackup'`.
 * See src/api.ts and the README's "Library API" section.
 */
export { baseBackup, watchBaseBackup, toBackupOptions } from './api.js';
export type { BaseBackupOptions, BaseBackupControl, BackupResult, BackupTablespace, BackupWatch } from './api.js';
export type {
  BackupEvent,
  BackupEventListener,
  BackupPhase,
  PhaseEvent,
  ProgressEvent,
  ResultEvent,
  ErrorEvent,
  CompletionRecord,
  ErrorRecord,
  RunIdentity,
  TablespaceRecord,
} from './events/types.js';
export { PgBasebackupError, UsageError, ConnectionError, ServerError, ProtocolError, FileError } from './errors.js';
export type { ErrorCode, ServerErrorFields } from './errors.js';
export type { Logger } from './log.js';
export { MARKER_NAME, STATUS_FILE_SUFFIX, statusFileFor } from './backup/completion-marker.js';
export type { MarkerRecord } from './backup/completion-marker.js';
export { readMarkerState } from './backup/marker-state.js';
export type { MarkerState, MarkerStateName } from './backup/marker-state.js';
