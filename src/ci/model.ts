/**
 * The pipeline model the CI rules read: platform-neutral in shape (workflows of jobs of steps), filled in by a
 * platform loader (src/ci/github/load.ts for GitHub Actions). Every job, step, `uses`, `run` and trigger keeps its
 * position in the file, so a finding points at the line to fix.
 */

/** 1-based line and column in the file. */
export interface Pos {
  readonly line: number;
  readonly column: number;
  /** The file, when not the workflow's own (GitLab: a job or script line from a local `include:`). */
  readonly file?: string;
}

/** A string value with where it starts (for `run` scripts: where the first line of the script is). */
export interface Located<T = string> {
  readonly value: T;
  readonly pos: Pos;
  /** For multi-line block scalars (`run: |`): the line of the script's first line, so offsets map to lines. */
  readonly bodyLine?: number;
}

/** Permissions as written: `read-all`, `write-all`, or scope to level (`{}` grants nothing). */
export type Permissions =
  | { readonly kind: 'all'; readonly level: 'read' | 'write'; readonly pos: Pos }
  | { readonly kind: 'scopes'; readonly scopes: Readonly<Record<string, string>>; readonly pos: Pos };

export interface Trigger {
  readonly event: string;
  /** The event's filter mapping (`branches`, `types`, `workflows`, ...), or null when none is given. */
  readonly config: unknown;
  readonly pos: Pos;
}

export interface Step {
  /** 0-based index in the job (or composite action). */
  readonly index: number;
  readonly id?: string;
  readonly name?: string;
  readonly pos: Pos;
  readonly uses?: Located;
  readonly run?: Located;
  /** `with:` inputs as strings (other scalars are printed; mappings and lists are dropped). */
  readonly with: Readonly<Record<string, Located>>;
  readonly env: Readonly<Record<string, Located>>;
  readonly if?: Located;
  /** `continue-on-error: true` (an expression counts as true: it may be). */
  readonly continueOnError: boolean;
  readonly shell?: string;
  readonly workingDirectory?: string;
}

export interface Job {
  readonly id: string;
  readonly name?: string;
  readonly pos: Pos;
  /** `runs-on` labels as written; expressions are kept as text. A runner group (`group:`) is `group:NAME`. */
  readonly runsOn: readonly string[];
  readonly runsOnPos?: Pos;
  /** undefined: inherited from the workflow (or, when it has none, the repository's default token). */
  readonly permissions?: Permissions;
  readonly if?: Located;
  /** The deployment environment's name (expressions kept as text). */
  readonly environment?: Located;
  readonly needs: readonly string[];
  /** A reusable-workflow call (`jobs.<id>.uses`). */
  readonly uses?: Located;
  /** Secrets passed to a reusable workflow: `inherit`, or a name-to-value map. */
  readonly secrets?: { readonly value: 'inherit' | Readonly<Record<string, string>>; readonly pos: Pos };
  readonly with: Readonly<Record<string, Located>>;
  readonly env: Readonly<Record<string, Located>>;
  /** `container:` and `services:` images. */
  readonly images: readonly Located[];
  readonly steps: readonly Step[];
  /** `continue-on-error` on the job (an expression counts as true: it may be). */
  readonly continueOnError?: boolean;
  /** `defaults.run.shell` of the job, else of the workflow (undefined: the platform's default). */
  readonly defaultShell?: string;
  /** GitLab only: what the neutral fields cannot say (src/ci/gitlab/parse.ts). */
  readonly gitlab?: GitLabJob;
}

/** The CI system a workflow belongs to; undefined reads as GitHub Actions. */
export type Platform = 'github' | 'gitlab' | 'jenkins';

/** A GitLab job's own facts. */
export interface GitLabJob {
  /** The pipeline sources (`push`, `merge_request_event`, ...) the job may run for, after workflow and job rules. */
  readonly sources: readonly string[];
  /** Where the job is kept to those sources (its `rules:`/`only:` key), else the job's key. */
  readonly sourcesPos: Pos;
  /** Every way the job may start for those sources is `when: manual` (someone with rights must start it). */
  readonly manual: boolean;
  readonly stage?: string;
  /** `environment.action` (start when absent): only `start` deploys. */
  readonly environmentAction?: string;
  /** `id_tokens:` names (OIDC tokens minted for the job) and `secrets:` names (Vault, cloud secret managers). */
  readonly idTokens: readonly Located[];
  readonly secrets: readonly Located[];
  /** `trigger:` (a downstream pipeline): the project or file it starts. */
  readonly trigger?: Located;
  /**
   * `needs:` jobs of this pipeline (cross-project and parent-pipeline needs left out), undefined when the job has no
   * `needs:` and so waits for every job of the earlier stages. `dependencies:` (artifacts only) is not here.
   */
  readonly needs?: readonly { readonly job: string; readonly optional: boolean }[];
  /** The `when:` values the job may run with (`on_success`, `manual`, `always`, `on_failure`, `delayed`). */
  readonly whens?: readonly string[];
  /** `allow_failure`: true (a `when: manual` job outside `rules:` by default), or the exit codes it allows. */
  readonly allowFailure?: true | readonly number[];
  /** `cache:` entries (key as written, `files:` keys as `files:a,b`). */
  readonly caches?: readonly GitLabCache[];
}

export interface GitLabCache {
  readonly key?: string;
  /** `unprotect: true`: protected and unprotected refs share it even where the project separates caches. */
  readonly unprotect: boolean;
  /** `pull`, `push` or `pull-push` (the default); an expression is kept as written. */
  readonly policy: string;
  readonly pos: Pos;
}

/** A GitLab `include:` entry. Only `local` ones are read; the others are judged by their reference. */
export interface Include {
  readonly kind: 'local' | 'remote' | 'project' | 'template' | 'component';
  /** The path, URL, project path or component reference as written. */
  readonly value: string;
  readonly ref?: string;
  /** `integrity:` of a remote include (sha256-…), which GitLab checks before using the file. */
  readonly integrity?: string;
  readonly pos: Pos;
}

/** One workflow file, or one composite/Docker action (`kind: 'action'`: no triggers, one pseudo-job). */
export interface Workflow {
  /** Path relative to the audited root, with forward slashes. */
  readonly file: string;
  readonly kind: 'workflow' | 'action';
  readonly name?: string;
  readonly triggers: readonly Trigger[];
  /** Workflow-level permissions; undefined when absent. */
  readonly permissions?: Permissions;
  readonly env: Readonly<Record<string, Located>>;
  readonly jobs: readonly Job[];
  /** For actions: `runs.using` (composite, docker, node20, ...). */
  readonly using?: string;
  /** undefined: GitHub Actions. */
  readonly platform?: Platform;
  /** GitLab: the `include:` entries of the pipeline (those of local included files too). */
  readonly includes?: readonly Include[];
  /** GitLab: the local files merged into this pipeline through `include:` (relative to the root). */
  readonly included?: readonly string[];
  /** GitLab: the stages in order, `.pre` first and `.post` last (GitLab's default list when `stages:` is absent). */
  readonly stages?: readonly string[];
}

/** A file that could not be read as a workflow: one line saying where and what. Never a clean pass. */
export interface LoadError {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** Everything found under one root: the models, and the files that could not be read. */
export interface Repository {
  readonly root: string;
  /** The directory the files' paths are relative to when the root is one file: its repository, or its directory. */
  readonly base?: string;
  readonly workflows: readonly Workflow[];
  readonly errors: readonly LoadError[];
  /** What was deliberately not read (GitLab remote, project, template and component includes): not a failure. */
  readonly notes?: readonly LoadError[];
}
