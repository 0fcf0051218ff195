import type { MisconfigRule } from '../model.js';
import { addInsteadOfCopy } from './add-instead-of-copy.js';
import { apkNoCache } from './apk-no-cache.js';
import { aptDistUpgrade } from './apt-dist-upgrade.js';
import { aptGetUpdateAlone } from './apt-get-update-alone.js';
import { baseImageNotApproved } from './base-image-not-approved.js';
import { duplicateGid } from './duplicate-gid.js';
import { duplicateUid } from './duplicate-uid.js';
import { emptyPassword } from './empty-password.js';
import { imageTooOld } from './image-too-old.js';
import { imageUnsigned } from './image-unsigned.js';
import { latestTag } from './latest-tag.js';
import { noHealthcheck } from './no-healthcheck.js';
import { packageCache } from './package-cache.js';
import { privilegedPort } from './privileged-port.js';
import { rootUser } from './root-user.js';
import { setuidSetgid } from './setuid-setgid.js';
import { sshPortExposed } from './ssh-port-exposed.js';
import { sudoUsage } from './sudo-usage.js';
import { unnecessaryPackage } from './unnecessary-package.js';
import { unverifiedInstall } from './unverified-install.js';
import { weakPasswordHash } from './weak-password-hash.js';
import { worldWritable } from './world-writable.js';

/**
 * Every misconfiguration rule, one module each in this folder. Explicit, so adding one is a visible one-line change;
 * a test checks that ids are unique, that every file here is listed, and that docs/rules.md documents each one.
 */
export const MISCONFIG_RULES: readonly MisconfigRule[] = [
  // Image rules (config, files, packages).
  rootUser,
  baseImageNotApproved,
  unnecessaryPackage,
  imageTooOld,
  imageUnsigned,
  noHealthcheck,
  setuidSetgid,
  packageCache,
  emptyPassword,
  weakPasswordHash,
  duplicateUid,
  duplicateGid,
  worldWritable,
  sshPortExposed,
  privilegedPort,
  // Build rules (the Dockerfile, or the image history).
  aptGetUpdateAlone,
  addInsteadOfCopy,
  unverifiedInstall,
  sudoUsage,
  latestTag,
  aptDistUpgrade,
  apkNoCache,
];
