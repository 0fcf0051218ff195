import { accountText, parsePasswd, shown } from '../files.js';
import type { BuildInput, ImageInput, Instruction, MisconfigRule, RuleHit } from '../model.js';

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
  if (input.from !== 'dockerfile') return [];
  const stages = input.steps.map((s) => s.stage ?? 0);
  if (stages.length === 0) return [];
  const last = Math.max(...stages);
  const steps = input.steps.filter((s) => (s.stage ?? 0) === last);
  let user: Instruction | undefined;
  for (const s of steps) if (s.keyword === 'USER') user = s;
  if (!user) {
    const from = steps.find((s) => s.keyword === 'FROM') ?? steps[0];
    return [
      {
        message: 'The last stage sets no USER: the image runs as root unless its base image sets a user',
        ...(from ? { step: from } : {}),
      },
    ];
  }
  const { root } = userPart(user.args);
  return root
    ? [{ message: `The last USER of the final stage is '${shown(user.args.trim())}': root`, step: user }]
    : [];
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
