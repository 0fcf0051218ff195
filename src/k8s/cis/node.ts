/** A node's file system as given for the CIS checks (`k8s audit --node-root DIR`). */
export interface NodeFiles {
  /** The directory that stands for the node's `/`. */
  readonly root: string;
  /** How reports name it (the path as given). */
  readonly shown: string;
}
