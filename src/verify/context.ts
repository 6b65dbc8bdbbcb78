/** What every stage of one verification shares. */
import type { LoadedManifest } from './manifest-files.js';
import type { VerifyOptions } from './options.js';
import type { VerifyProgress } from './progress.js';
import type { Reporter } from './report.js';

export interface VerifierContext {
  options: VerifyOptions;
  manifest: LoadedManifest;
  reporter: Reporter;
  progress: VerifyProgress;
  /** The ignore list; paths that could not be read are added as the run goes. */
  ignore: string[];
  /** Contents of the backup's PG_VERSION when seen (decides the WAL format). */
  pgVersion: string | undefined;
}
