/**
 * Images: the tag and labels of an image built for a run, the `build`
 * arguments, and reading images back (id, digest, labels) to record, list and
 * remove them.
 */
import { RunstageError } from "../errors.ts";
import { callEngine, type Engine, engineOutput } from "./engine.ts";

/** Every image and container runstage makes carries this label, set to the run's id. */
export const RUN_LABEL = "runstage.run";
/** An image built for a run also carries the runs home it belongs to. */
export const HOME_LABEL = "runstage.home";

/** `localhost/runstage-<op>:<run id>`: an image name both engines take, tied to its run. */
export function imageTag(opName: string, runId: string): string {
  const repo = opName.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+/, "")
    .slice(0, 60);
  return `localhost/runstage-${repo || "op"}:${runId}`;
}

export interface BuildSpec {
  dockerfile: string;
  context: string;
  tag: string;
  runId: string;
  runsHome: string;
}

/** `build` with the run dir as the context, tagged and labelled for its run. */
export function buildArgs(spec: BuildSpec): string[] {
  return [
    "build",
    "-f",
    spec.dockerfile,
    "-t",
    spec.tag,
    "--label",
    `${RUN_LABEL}=${spec.runId}`,
    "--label",
    `${HOME_LABEL}=${spec.runsHome}`,
    spec.context,
  ];
}

export interface ImageInfo {
  /** `sha256:<hex>`. */
  id: string;
  /** The manifest digest, where the engine has one (podman does for local builds). */
  digest: string | null;
  tags: string[];
  labels: Record<string, string>;
  created: string;
}

/** The images by name or id; an image that is not there is left out. */
export async function inspectImages(engine: Engine, refs: string[]): Promise<ImageInfo[]> {
  if (refs.length === 0) return [];
  const r = await callEngine(engine, ["image", "inspect", ...refs]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.stdout || "[]");
  } catch {
    throw new RunstageError(`${engine.command} image inspect printed no JSON: ${r.stderr.trim()}`);
  }
  return (Array.isArray(parsed) ? parsed : []).map(imageInfo);
}

export async function inspectImage(engine: Engine, ref: string): Promise<ImageInfo | undefined> {
  return (await inspectImages(engine, [ref]))[0];
}

// deno-lint-ignore no-explicit-any
function imageInfo(raw: any): ImageInfo {
  const id = String(raw.Id ?? "");
  const repoDigest = (raw.RepoDigests ?? [])[0]?.split("@")[1];
  return {
    id: id.startsWith("sha256:") ? id : `sha256:${id}`,
    digest: raw.Digest ?? repoDigest ?? null,
    tags: raw.RepoTags ?? [],
    labels: raw.Config?.Labels ?? raw.Labels ?? {},
    created: String(raw.Created ?? ""),
  };
}

/** Every image carrying the run label (of one runs home, when given). */
export async function runImages(engine: Engine, runsHome?: string): Promise<ImageInfo[]> {
  const filter = runsHome === undefined ? RUN_LABEL : `${HOME_LABEL}=${runsHome}`;
  const ids = (await engineOutput(engine, [
    "images",
    "-q",
    "--no-trunc",
    "--filter",
    `label=${filter}`,
  ])).split("\n").map((l) => l.trim()).filter(Boolean);
  return await inspectImages(engine, [...new Set(ids)]);
}

/** Removes images by id, with their tags. */
export async function removeImages(engine: Engine, ids: string[]): Promise<void> {
  if (ids.length > 0) await engineOutput(engine, ["rmi", "-f", ...ids]);
}
