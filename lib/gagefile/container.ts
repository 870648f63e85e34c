/**
 * An op's container attributes: `image = "NAME"` (run the op's run-dir phases
 * in a container of that image) and `dockerfile = "PATH"` (build an image from
 * the staged run dir first, then run in it). For such an op, `path-map`'s `.`
 * entry names where the run dir is inside the container, as the seed's
 * `path_map` does, instead of a dir inside the run dir. lib/container/ runs
 * them; docs/container.md has the rules.
 */
import { attributeError } from "./attributes.ts";
import type { PathMap } from "./pathmap.ts";
import { RunstageError } from "../errors.ts";

/** Where the run dir is in the container when the op's path-map has no `.` entry. */
export const DEFAULT_CONTAINER_DIR = "/work";

export interface OpContainer {
  /** An image to run in, as the engine names it; absent when built from `dockerfile`. */
  image?: string;
  /** The Dockerfile, relative to the project (and to the run dir, where it is staged). */
  dockerfile?: string;
  /** The run dir's place in the container, absolute: the op's working dir there. */
  dir: string;
}

/**
 * The op's container, or undefined for an op that runs here; with the path
 * map the staging uses (without the `.` entry the container took).
 */
export function readOpContainer(
  where: string,
  table: Record<string, unknown>,
  pathMap: PathMap | undefined,
): { container?: OpContainer; pathMap?: PathMap } {
  const image = readName(where, "image", table.image);
  const dockerfile = readName(where, "dockerfile", table.dockerfile);
  if (image === undefined && dockerfile === undefined) return pathMap ? { pathMap } : {};
  if (image !== undefined && dockerfile !== undefined) {
    throw new RunstageError(
      `${where}: attributes "image" and "dockerfile" both name the image; keep one`,
    );
  }
  if (
    dockerfile !== undefined && (/^([\\/]|[A-Za-z]:)/.test(dockerfile) ||
      dockerfile.split(/[\\/]/).includes(".."))
  ) {
    throw new RunstageError(
      `${where}: attribute "dockerfile" must be a path in the project (got ${
        JSON.stringify(dockerfile)
      })`,
    );
  }
  const root = pathMap?.find((m) => m.from === "");
  if (root !== undefined && root.to === "") {
    throw new RunstageError(
      `${where}: attribute "path-map": "." must name a dir in the container, not its root`,
    );
  }
  const rest = pathMap?.filter((m) => m !== root);
  return {
    container: {
      ...(image !== undefined ? { image } : {}),
      ...(dockerfile !== undefined ? { dockerfile } : {}),
      dir: root ? `/${root.to}` : DEFAULT_CONTAINER_DIR,
    },
    ...(rest?.length ? { pathMap: rest } : {}),
  };
}

function readName(where: string, attr: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim() === "" || /[\p{Cc}\s]/u.test(value)) {
    throw attributeError(where, attr, "a non-empty string without spaces", value);
  }
  return value;
}
