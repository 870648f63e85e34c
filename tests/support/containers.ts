/**
 * A real container engine for the tests: Debian's podman, rootful, offline.
 * Its settings live here, in the test environment, never in runstage's
 * defaults: a containers.conf (no default ulimits, which a sandbox refuses;
 * cgroupfs; runc; events in a file) and a storage.conf (vfs, its root in a
 * temp dir of this test process), named by CONTAINERS_CONF and
 * CONTAINERS_STORAGE_CONF. No registry is reachable, so the base image is
 * built `FROM scratch` with the static busybox of Debian's busybox-static.
 *
 * Without podman, runc or busybox a container test prints SKIP_LINE and
 * passes; with RUNSTAGE_REQUIRE_CONTAINERS=1 (CI) it fails instead.
 */
import { runCommand } from "./slurm.ts";

export const SKIP_LINE = "skipped: no container engine";

/** The base image every test image starts from: busybox's shell and tools, nothing else. */
export const BASE_IMAGE = "localhost/runstage-test-base:latest";

const BUSYBOX = "/bin/busybox";

export interface ContainerEnv {
  /** The variables that point podman at the test settings. */
  env: Record<string, string>;
  /** `podman ARGS` in that environment; throws with its stderr when it fails. */
  podman(...args: string[]): Promise<string>;
}

let ready: Promise<ContainerEnv | { skip: string }> | undefined;

/** The engine, set up once per test process (its storage removed when the process ends). */
function setUp(): Promise<ContainerEnv | { skip: string }> {
  ready ??= (async () => {
    for (const tool of ["podman", "runc"]) {
      if ((await runCommand("sh", ["-c", `command -v ${tool}`]))?.code !== 0) {
        return { skip: `${tool} is not on PATH` };
      }
    }
    try {
      await Deno.stat(BUSYBOX);
    } catch {
      return { skip: `no ${BUSYBOX} (busybox-static)` };
    }
    const root = await Deno.makeTempDir({ prefix: "runstage-podman-" });
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(root, { recursive: true });
      } catch { /* best effort */ }
    });
    await Deno.writeTextFile(
      `${root}/containers.conf`,
      `[containers]\ndefault_ulimits = []\n\n[engine]\ncgroup_manager = "cgroupfs"\n` +
        `events_logger = "file"\nruntime = "runc"\n`,
    );
    await Deno.writeTextFile(
      `${root}/storage.conf`,
      `[storage]\ndriver = "vfs"\nrunroot = "${root}/run"\ngraphroot = "${root}/storage"\n`,
    );
    const env = {
      CONTAINERS_CONF: `${root}/containers.conf`,
      CONTAINERS_STORAGE_CONF: `${root}/storage.conf`,
    };
    const podman = async (...args: string[]) => {
      const out = await new Deno.Command("podman", {
        args,
        env,
        stdout: "piped",
        stderr: "piped",
        stdin: "null",
      }).output();
      const text = (b: Uint8Array) => new TextDecoder().decode(b);
      if (!out.success) throw new Error(`podman ${args.join(" ")}: ${text(out.stderr)}`);
      return text(out.stdout);
    };
    const context = `${root}/base`;
    await Deno.mkdir(context);
    await Deno.copyFile(BUSYBOX, `${context}/busybox`);
    await Deno.writeTextFile(
      `${context}/Dockerfile`,
      'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n',
    );
    try {
      await podman("build", "-q", "-t", BASE_IMAGE, context);
    } catch (err) {
      return { skip: `podman cannot build here: ${(err as Error).message.split("\n")[0]}` };
    }
    return { env, podman };
  })();
  return ready;
}

/** RUNSTAGE_REQUIRE_CONTAINERS=1 (CI): no engine fails the test instead of skipping it. */
export function containersRequired(): boolean {
  return Deno.env.get("RUNSTAGE_REQUIRE_CONTAINERS") === "1";
}

/** `Deno.test(name, fn)` for a test that needs the engine; see the module's doc. */
export function containerTest(name: string, fn: (engine: ContainerEnv) => Promise<void>): void {
  Deno.test(name, async () => {
    const engine = await setUp();
    if ("skip" in engine) {
      if (containersRequired()) {
        throw new Error(`RUNSTAGE_REQUIRE_CONTAINERS=1 but ${engine.skip}`);
      }
      console.log(SKIP_LINE);
      return;
    }
    await fn(engine);
  });
}
