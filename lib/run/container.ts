/**
 * Meta `container`: the container a run's phases ran in (lib/container/ writes
 * it): the engine and its version, the image (built from the run dir, or
 * named by the op), its id and digest, the Dockerfile's digest, the run dir's
 * place in the container, and the id of each phase's container.
 */

export interface RunContainer {
  /** The engine's command as called (`podman`, `docker`, or a path to one). */
  engine: string;
  /** Its version, as `<engine> --version` says it. */
  engineVersion: string;
  /** The image by name: the tag runstage built, or the op's `image`. */
  image: string;
  /** The image's id (`sha256:…`); null when it was not there to inspect. */
  imageId: string | null;
  /** The image's digest (`sha256:…`), where the engine has one. */
  imageDigest?: string | null;
  /** The Dockerfile as given, and the SHA-256 of the copy that was built. */
  dockerfile?: string;
  dockerfileDigest?: string;
  /** The run dir's place in the container, the op's working dir there. */
  dir: string;
  /** Each phase that ran in a container: its container's id. */
  containers?: Record<string, string>;
}

export function isRunContainer(v: unknown): v is RunContainer {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const c = v as Record<string, unknown>;
  return typeof c.engine === "string" && typeof c.engineVersion === "string" &&
    typeof c.image === "string" && (c.imageId === null || typeof c.imageId === "string") &&
    typeof c.dir === "string";
}
