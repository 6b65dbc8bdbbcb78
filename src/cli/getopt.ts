/**
 * A port of GNU getopt_long(3) as glibc 2.26+ implements it (checked against glibc 2.36), which is what
 * pg_basebackup uses on Linux: short-option clusters (`-vP`), attached or separate values (`-Ft`, `-F t`),
 * `--name=value` and `--name value`, unique abbreviations of long names (`--pgd`), `--` ending the options,
 * and argument permutation: non-options are set aside and options after them are still parsed, unless
 * POSIXLY_CORRECT asks for "require order" (stop at the first non-option).
 *
 * Where glibc prints a diagnostic and returns '?', this port throws a GetoptError carrying that diagnostic
 * line verbatim.  Options are returned one at a time so that the caller can convert (and reject) each value
 * before the next option is looked at, exactly in pg's order.
 */
import { UsageError } from '../errors.js';

/** `has_arg` of a `struct option`. */
export type ArgumentPolicy = 'none' | 'required' | 'optional';

/** One entry of getopt_long's `longopts` table (`flag` is always NULL here). */
export interface LongOption {
  readonly name: string;
  readonly hasArg: ArgumentPolicy;
  /** What getopt returns for it: a short option letter or a number. */
  readonly val: string | number;
  /**
   * An option of ours beyond pg's table: an abbreviation picks it only when it abbreviates none of
   * pg's own options, so that every abbreviation pg accepts (`--status=5` for --status-interval)
   * means what it means to pg.  Its full name always works.
   */
  readonly extension?: boolean;
}

/** One option found: what getopt_long returned, `optarg`, and `*longindex` for long options. */
export interface GetoptItem {
  readonly val: string | number;
  readonly arg: string | undefined;
  readonly longIndex: number | undefined;
}

export interface GetoptSettings {
  /** argv[0] as glibc prints it at the start of its diagnostics. */
  progname?: string;
  /** The POSIXLY_CORRECT environment variable is set: stop at the first non-option. */
  posixlyCorrect?: boolean;
}

/**
 * The complaint getopt_long itself writes to stderr for a bad option (glibc's texts, e.g.
 * `pg_basebackup: invalid option -- 'k'`), after which pg adds only its hint line and exits 1.
 *
 * How to print it (src/cli/main.ts): NOT with the `pg_basebackup: error: ` prefix.  Write `err.message`
 * verbatim followed by a newline, unless it is the empty string (pg's default case for an option it does
 * not handle, such as `--help` given after other arguments, where getopt printed nothing), then the usual
 * `pg_basebackup: hint: ${err.hint}` line.
 */
export class GetoptError extends UsageError {
  constructor(diagnostic: string) {
    super(diagnostic, { hint: true });
  }
}

/** A non-option argument for glibc: anything not starting with '-', and "-" by itself. */
function isNonOption(arg: string): boolean {
  return arg[0] !== '-' || arg.length === 1;
}

/**
 * Iterates over the options of an argument vector (without argv[0]).  Call next() until it returns
 * undefined; then `operands` holds the non-option arguments in their original order (pg's
 * `argv[optind] ... argv[argc - 1]` after glibc's permutation).
 */
export class GetoptLong {
  private readonly argv: readonly string[];
  private readonly shortopts: string;
  private readonly longopts: readonly LongOption[];
  private readonly progname: string;
  private readonly requireOrder: boolean;
  private optind = 0;
  private nextchar = '';
  private finished = false;
  private readonly nonOptions: string[] = [];

  constructor(argv: readonly string[], shortopts: string, longopts: readonly LongOption[], settings: GetoptSettings = {}) {
    this.argv = argv;
    this.longopts = longopts;
    this.progname = settings.progname ?? 'pg_basebackup';
    // Leading '+' forces require-order, '-' (return-in-order) is not supported; ':' (silent) is not used.
    this.requireOrder = shortopts.startsWith('+') || settings.posixlyCorrect === true;
    this.shortopts = shortopts.replace(/^[+-]/, '');
  }

  /** The non-option arguments; complete once next() has returned undefined. */
  get operands(): readonly string[] {
    return this.nonOptions;
  }

  /** The next option, or undefined when there are no more.  Throws GetoptError where glibc returns '?'. */
  next(): GetoptItem | undefined {
    if (this.finished) return undefined;
    if (this.nextchar === '') {
      const argv = this.argv;
      if (!this.requireOrder) {
        while (this.optind < argv.length && isNonOption(argv[this.optind] as string)) {
          this.nonOptions.push(argv[this.optind++] as string);
        }
      }
      if (this.optind < argv.length && argv[this.optind] === '--') {
        this.optind++;
        return this.finish();
      }
      if (this.optind >= argv.length) return this.finish();
      const arg = argv[this.optind] as string;
      if (isNonOption(arg)) return this.finish(); // require order: stop here, the rest are operands
      if (arg[1] === '-') return this.longOption(arg.slice(2));
      this.nextchar = arg.slice(1);
    }
    return this.shortOption();
  }

  private finish(): undefined {
    this.finished = true;
    this.nextchar = '';
    this.nonOptions.push(...this.argv.slice(this.optind));
    this.optind = this.argv.length;
    return undefined;
  }

  private fail(diagnostic: string): never {
    this.finished = true;
    throw new GetoptError(diagnostic);
  }

  private shortOption(): GetoptItem {
    const c = this.nextchar[0] as string;
    this.nextchar = this.nextchar.slice(1);
    if (this.nextchar === '') this.optind++;
    const at = c === ':' || c === ';' ? -1 : this.shortopts.indexOf(c);
    if (at < 0) this.fail(`${this.progname}: invalid option -- '${c}'`);
    if (this.shortopts[at + 1] !== ':') return { val: c, arg: undefined, longIndex: undefined };
    let arg: string | undefined;
    if (this.shortopts[at + 2] === ':') {
      // Optional argument: only when attached.
      if (this.nextchar !== '') {
        arg = this.nextchar;
        this.optind++;
      }
    } else if (this.nextchar !== '') {
      arg = this.nextchar;
      this.optind++;
    } else if (this.optind >= this.argv.length) {
      this.fail(`${this.progname}: option requires an argument -- '${c}'`);
    } else {
      arg = this.argv[this.optind++] as string;
    }
    this.nextchar = '';
    return { val: c, arg, longIndex: undefined };
  }

  private longOption(text: string): GetoptItem {
    const eq = text.indexOf('=');
    const name = eq < 0 ? text : text.slice(0, eq);
    const { found, index, ambiguous } = this.lookup(name);
    if (ambiguous.length > 0) {
      const list = ambiguous.map((i) => ` '--${(this.longopts[i] as LongOption).name}'`).join('');
      this.fail(`${this.progname}: option '--${text}' is ambiguous; possibilities:${list}`);
    }
    if (found === undefined) this.fail(`${this.progname}: unrecognized option '--${text}'`);
    this.optind++;
    let arg: string | undefined;
    if (eq >= 0) {
      if (found.hasArg === 'none') this.fail(`${this.progname}: option '--${found.name}' doesn't allow an argument`);
      arg = text.slice(eq + 1);
    } else if (found.hasArg === 'required') {
      if (this.optind >= this.argv.length) this.fail(`${this.progname}: option '--${found.name}' requires an argument`);
      arg = this.argv[this.optind++] as string;
    }
    return { val: found.val, arg, longIndex: index };
  }

  /**
   * An exact name wins; otherwise a unique abbreviation (entries that differ only by name count as one),
   * looked for among pg's own options first, then among our extensions.
   */
  private lookup(name: string): { found: LongOption | undefined; index: number; ambiguous: number[] } {
    const exact = this.longopts.findIndex((o) => o.name === name);
    if (exact >= 0) return { found: this.longopts[exact], index: exact, ambiguous: [] };
    const own = this.abbreviation(name, false);
    return own.found !== undefined ? own : this.abbreviation(name, true);
  }

  private abbreviation(name: string, extension: boolean): { found: LongOption | undefined; index: number; ambiguous: number[] } {
    let found: LongOption | undefined;
    let index = -1;
    const set: number[] = [];
    this.longopts.forEach((o, i) => {
      if ((o.extension === true) !== extension || !o.name.startsWith(name)) return;
      if (found === undefined) {
        found = o;
        index = i;
      } else if (found.hasArg !== o.hasArg || found.val !== o.val) {
        if (set.length === 0) set.push(index);
        set.push(i);
      }
    });
    return { found, index, ambiguous: set };
  }
}
