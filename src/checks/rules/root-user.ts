import { printable } from '../../errors.js';
import { accountText, parsePasswd, shown } from '../files.js';
import type { BuildInput, ImageInput, MisconfigRule, RuleHit } from '../model.js';
import { finalSetting } from '../stages.js';

/** The user part of `user[:group]`, and whether it names root by itself (empty, `root`, uid 0). */
function userPart(spec: string): { user: string; root: boolean } {
  const user = spec.trim().split(':')[0] ?? '';
  return { user, root: user === '' || user === 'root' || /^0+$/.test(user) };
}

function checkImage(input: ImageInput): RuleHit[] {
  const spec = input.config.config?.User ?? '';
  const { user, root } = userPart(spec);
  if (root) {
    const why = spec.trim() === '' ? 'the config sets no User' : `the config's User is '${shown(spec)}'`;
    return [{ message: `The image runs as root: ${why}` }];
  }
  if (/^\d+$/.test(user)) return []; // a numeric uid other than 0 is what the kernel sees, whatever passwd says
  const passwd = accountText(input.tree, 'etc/passwd');
  if (passwd.kind === 'absent') return []; // the runtime refuses to start a named user it cannot look up
  if (passwd.kind === 'unreadable')
    return [
      {
        message: `Cannot tell whether User '${shown(user)}' is root: /etc/passwd could not be read (${passwd.reason})`,
        path: 'etc/passwd',
        layer: passwd.layer,
        severity: 'unknown',
      },
    ];
  // The runtime takes the first matching line, as getpwnam does.
  const entry = parsePasswd(passwd.text).find((u) => u.name === user);
  if (entry?.uid !== 0) return [];
  return [
    {
      message: `The image runs as root: User '${shown(user)}' has uid 0 in /etc/passwd (line ${entry.line})`,
      path: 'etc/passwd',
      layer: passwd.layer,
    },
  ];
}

function checkBuild(input: BuildInput): RuleHit[] {
  if (input.from !== 'dockerfile' || input.steps.length === 0) return [];
  const { step: user, from, base } = finalSetting(input.steps, 'USER');
  if (!user) {
    // The base image may well set a user (distroless :nonroot does): not known to run as root, but not stated here.
    const image = base ? ` FROM ${printable(base.args.trim().split(/\s+/)[0] ?? '', 200)}` : '';
    return [
      {
        message: `The last stage sets no USER: the user comes from the base image${image}; set it explicitly with USER`,
        severity: 'medium',
        ...(from ? { step: from } : {}),
      },
    ];
  }
  if (!userPart(user.args).root) return [];
  const spec = shown(user.args.trim());
  const message =
    user.stage === from?.stage
      ? `The last USER of the final stage is '${spec}': root`
      : `The final stage inherits USER '${spec}' from the stage it is built FROM: root`;
  return [{ message, step: user }];
}

export const rootUser: MisconfigRule = {
  id: 'root-user',
  kind: 'misconfiguration',
  title: 'Image runs as root',
  severity: 'high',
  cis: '4.1',
  dockle: 'CIS-DI-0001',
  rationale:
    'A process running as root in a container is root on the host once it escapes the container, and can change every file of the image at run time.',
  remediation:
    'Create an unprivileged user (`useradd --system app`) and end the Dockerfile with `USER app` (or a numeric `USER 10001`).',
  checkImage,
  checkBuild,
};
