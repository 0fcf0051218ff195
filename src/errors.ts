/**
 * Typed, coded errors. Every error a user can meet has a code listed in ERROR_CATALOGUE with a
 * "how to solve" line (docs/errors.md is checked against it by a test) and an exit-code class.
 */

/** Exit codes shared by every command: 0 pass, 1 policy failed / findings, 2 usage or input error, 3 infrastructure. */
export const ExitCode = { ok: 0, failed: 1, input: 2, infrastructure: 3 } as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export const ERROR_CATALOGUE = {
  USAGE: { exit: ExitCode.input, solve: 'Check the command line against `portcullis <command> --help`.' },
  BAD_REFERENCE: {
    exit: ExitCode.input,
    solve:
      'Use a skopeo-style reference: docker://host/repo:tag, oci:DIR[:ref], oci-archive:FILE, docker-archive:FILE or dir:ROOTFS.',
  },
  NOT_FOUND: { exit: ExitCode.input, solve: 'Check that the file, directory, tag or digest exists.' },
  MANIFEST_INVALID: {
    exit: ExitCode.input,
    solve: 'The image manifest or index is malformed; rebuild or re-push the image with a standard tool.',
  },
  MANIFEST_TOO_LARGE: {
    exit: ExitCode.input,
    solve: 'Manifests over the limit (4 MiB) are refused as hostile; inspect the source of the image.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    exit: ExitCode.input,
    solve:
      'Only OCI and Docker v2 schema 2 images and indexes are supported; convert schema 1 images with skopeo copy.',
  },
  PLATFORM_NOT_FOUND: {
    exit: ExitCode.input,
    solve: 'Pick one of the platforms the index lists with --platform os/arch[/variant], or use --all-platforms.',
  },
  DIGEST_MISMATCH: {
    exit: ExitCode.input,
    solve: 'The content does not match its digest: it was tampered with or corrupted. Re-push from a trusted source.',
  },
  SIZE_MISMATCH: { exit: ExitCode.input, solve: 'The blob size differs from its descriptor; re-push the image.' },
  LAYER_INVALID: {
    exit: ExitCode.input,
    solve: 'The layer tar is malformed or hostile (path traversal, truncated, bad header); do not deploy this image.',
  },
  DECOMPRESSION_BOMB: {
    exit: ExitCode.input,
    solve:
      'The layer or zip archive expands far beyond a plausible size; for a layer, raise --max-layer-size only if you trust the image; do not import such an archive.',
  },
  CONTENT_LIMIT: {
    exit: ExitCode.input,
    solve:
      'A file a cataloger must read is over --max-file-size (default 64MiB), or the contents kept passed --max-content-total (default 256MiB); raise that option if you trust the image. The image is not known to be malformed.',
  },
  FILE_TOO_LARGE: {
    exit: ExitCode.input,
    solve: 'Raise the limit with the matching option if the file is legitimate.',
  },
  ARCHIVE_INVALID: {
    exit: ExitCode.input,
    solve: 'The archive is not a valid docker-archive / oci-archive tar; recreate it with docker save or skopeo copy.',
  },
  SYMLINK_LOOP: {
    exit: ExitCode.input,
    solve: 'The image has a symbolic-link loop on a path that had to be resolved.',
  },
  CONFIG_INVALID: { exit: ExitCode.input, solve: 'Fix the configuration file; the message names the field.' },
  STATE_IN_USE: {
    exit: ExitCode.input,
    solve:
      'Another `registry watch` holds the state file: stop it, or point this one at another state. For the advisory database: another `db import` or `db update` committed first; run this one again.',
  },
  NOTIFICATION_INVALID: {
    exit: ExitCode.input,
    solve:
      "The registry notification was refused (not a distribution events envelope, too large or too many events); check the registry's notifications endpoint settings.",
  },
  DOCKERFILE_INVALID: {
    exit: ExitCode.input,
    solve:
      'The Dockerfile was refused as hostile (over 1 MiB, or shaped to exhaust the parser); check where it came from.',
  },
  ZIP_INVALID: {
    exit: ExitCode.input,
    solve: 'The zip export is malformed, truncated or damaged; download it again, or recreate it with zip.',
  },
  INVALID_VERSION: {
    exit: ExitCode.input,
    solve:
      'The version or range is not valid in the named scheme; check it, or pick the right --scheme (docs/commands/version.md).',
  },
  VEX_INVALID: {
    exit: ExitCode.input,
    solve:
      'Fix the VEX document at the JSON path the message names; Portcullis reads OpenVEX (v0.0.1 to v0.2.0) and CycloneDX 1.4-1.6 VEX.',
  },
  SBOM_INVALID: {
    exit: ExitCode.input,
    solve:
      'The stored SBOM is malformed or over the limits (size, components, nesting) at the JSON path the message names; re-assess the image with portcullis gate.',
  },
  POLICY_INVALID: {
    exit: ExitCode.input,
    solve:
      'Fix the policy at the line and column each message names; the format is in docs/policy.md and schemas/policy.schema.json.',
  },
  CI_INVALID: {
    exit: ExitCode.input,
    solve:
      'Fix the workflow or action file at the line and column named (GitHub would refuse it too); the other files were still audited, but the run is incomplete.',
  },
  K8S_INVALID: {
    exit: ExitCode.input,
    solve:
      'Fix the manifest or dump at the line and column named (the API server would refuse it too); the other objects were still audited, but the run is incomplete.',
  },
  CI_BASELINE_INVALID: {
    exit: ExitCode.input,
    solve:
      'Record the baseline again with `portcullis ci baseline` (schemas/ci-baseline.schema.json); never edit it by hand.',
  },
  CI_BASELINE_NOT_VERIFIED: {
    exit: ExitCode.input,
    solve:
      'Do not trust the baseline: its signature (FILE.sig) is missing or was not made by this key over these bytes. Record and sign it again from a trusted checkout.',
  },
  CI_GIT_FAILED: {
    exit: ExitCode.input,
    solve: 'Check that PATH is inside a git repository and that the revision exists locally (`git rev-parse REV`).',
  },
  KEY_INVALID: {
    exit: ExitCode.input,
    solve:
      'Give a cosign key: an ECDSA P-256 PEM `PUBLIC KEY`, or an `ENCRYPTED SIGSTORE PRIVATE KEY` from `portcullis keygen` or `cosign generate-key-pair`.',
  },
  KEY_DECRYPT_FAILED: {
    exit: ExitCode.input,
    solve: 'Check the password (COSIGN_PASSWORD or the prompt); if it is right, the key file is damaged.',
  },
  FILE_EXISTS: { exit: ExitCode.input, solve: 'Pass --force to overwrite it, or choose another name.' },
  SIGNATURE_MALFORMED: {
    exit: ExitCode.input,
    solve:
      "The signature or attestation image is not in cosign's format; delete its .sig/.att tag and sign again with a trusted key.",
  },
  NOT_VERIFIED: {
    exit: ExitCode.failed,
    solve:
      'Do not deploy the image: the message says which check failed (wrong key, payload edited, digest or repository mismatch, malformed, missing).',
  },
  AUTH_FAILED: {
    exit: ExitCode.infrastructure,
    solve: 'Check credentials (--creds, REGISTRY_AUTH_FILE, ~/.docker/config.json or its credential helper).',
  },
  DENIED: {
    exit: ExitCode.infrastructure,
    solve: 'The credentials lack access to this repository; ask for pull rights (push rights where Portcullis writes).',
  },
  CREDENTIAL_HELPER_FAILED: {
    exit: ExitCode.infrastructure,
    solve: 'Run the docker-credential-<helper> named in the message by hand to see why it fails.',
  },
  TLS_FAILED: {
    exit: ExitCode.infrastructure,
    solve:
      'Give the registry or mirror CA with --ca-cert (or --cert-dir); plain HTTP only with --insecure-registry HOST, or --allow-http for an advisory mirror.',
  },
  NETWORK: {
    exit: ExitCode.infrastructure,
    solve:
      'Check that the registry or advisory feed is reachable, then rerun. A message ending in (…after N attempts) was retried that often (--retries sets N); a layer cut off while streaming is not retried.',
  },
  REGISTRY_ERROR: {
    exit: ExitCode.infrastructure,
    solve: 'The registry answered with an error or garbage; the message gives its status and error code.',
  },
  RATE_LIMITED: { exit: ExitCode.infrastructure, solve: 'The registry kept answering 429; wait or authenticate.' },
  PUSH_FAILED: {
    exit: ExitCode.infrastructure,
    solve:
      'The destination registry refused a write (blob upload, manifest or tag); the message gives its status and error code. Check push rights, the storage of the registry, and rerun: copies resume where they stopped.',
  },
  GATE_UNVERIFIED: {
    exit: ExitCode.infrastructure,
    solve:
      'The signature or attestations the gate just wrote to production did not read back and verify, so the tag was not set; check the registry (storage, a proxy or cache in front of it) and rerun the gate.',
  },
  FEED_ERROR: {
    exit: ExitCode.infrastructure,
    solve:
      'An advisory feed answered with an error, or with a truncated, oversized or wrong document; retry later, or point --mirror at a working copy.',
  },
  OUTPUT_FAILED: {
    exit: ExitCode.infrastructure,
    solve: 'The output could not be written: the reading end closed early, or the disk is full.',
  },
  INTERNAL: { exit: ExitCode.infrastructure, solve: 'A bug in Portcullis: please report it with the message.' },
} as const satisfies Record<string, { exit: ExitCodeValue; solve: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** The one error class of the project: a code from the catalogue, a one-line message, an optional cause. */
export class PortcullisError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PortcullisError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
  get exitCode(): ExitCodeValue {
    return ERROR_CATALOGUE[this.code].exit;
  }
}

/** Shorthand constructor used everywhere: `fail('DIGEST_MISMATCH', 'layer sha256:.. : ...')`. */
export function fail(code: ErrorCode, message: string, cause?: unknown): never {
  throw new PortcullisError(code, message, cause === undefined ? {} : { cause });
}

/** Make untrusted text safe to put in a one-line message: control characters become '?', length is capped. */
export function printable(text: string, max = 200): string {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/** Any thrown value as a one-line message (never multi-line stack dumps for users). */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}

/** Classify an unknown error to an exit code: typed errors carry theirs; anything else is a bug or I/O fault. */
export function exitCodeOf(err: unknown): ExitCodeValue {
  if (err instanceof PortcullisError) return err.exitCode;
  return ExitCode.infrastructure;
}
