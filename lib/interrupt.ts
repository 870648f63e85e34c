/**
 * Ctrl-C and friends. The first SIGINT, SIGTERM or SIGHUP asks the run to stop:
 * staging stops at its next step, a running phase gets the signal forwarded to
 * its process group, and the run is finalized as terminated. A second signal
 * kills the phase's process group at once.
 */
import process from "node:process";

export type StopSignal = "SIGINT" | "SIGTERM" | "SIGHUP";
const STOP_SIGNALS: StopSignal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

export class Interrupt {
  readonly #controller = new AbortController();
  #received: StopSignal | undefined;
  #forceHandlers = new Set<() => void>();

  /** Aborted at the first signal; `reason` is the signal's name. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The first signal received, if any. */
  get received(): StopSignal | undefined {
    return this.#received;
  }

  receive(sig: StopSignal): void {
    if (this.#received === undefined) {
      this.#received = sig;
      this.#controller.abort(sig);
    } else {
      for (const kill of this.#forceHandlers) kill();
    }
  }

  /** Registers what a second signal does; returns the unregister function. */
  onForce(kill: () => void): () => void {
    this.#forceHandlers.add(kill);
    return () => this.#forceHandlers.delete(kill);
  }

  /** Throws RunInterrupted once a signal has been received: a staging checkpoint. */
  check(): void {
    if (this.#received !== undefined) throw new RunInterrupted(this.#received);
  }

  /** Routes this process's stop signals here until the returned function is called. */
  listenToProcess(): () => void {
    const handlers = STOP_SIGNALS.map((sig) => {
      const handler = () => this.receive(sig);
      process.on(sig, handler);
      return [sig, handler] as const;
    });
    return () => handlers.forEach(([sig, handler]) => process.off(sig, handler));
  }
}

/**
 * Work stopped by a signal. Staging finalizes its run as terminated; any other
 * command (a scan, verify, export, import) cleans up on the way out and the CLI
 * exits with 128 + the signal's number, as a shell reports a killed command.
 */
export class RunInterrupted extends Error {
  constructor(readonly sig: StopSignal) {
    super(`interrupted by ${sig}`);
    this.name = "RunInterrupted";
  }

  /** 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP. */
  get exitCode(): number {
    return 128 + SIGNAL_NUMBERS[this.sig];
  }
}

const SIGNAL_NUMBERS: Record<StopSignal, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/**
 * A long loop's checkpoint: throws RunInterrupted once `signal` is aborted (its
 * reason is the stop signal's name, as Interrupt sets it).
 *
 * @example
 * ```ts
 * for (const file of files) {
 *   checkAborted(signal);
 *   await hashFile(file);
 * }
 * ```
 */
export function checkAborted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  const reason = signal.reason;
  throw new RunInterrupted(STOP_SIGNALS.includes(reason) ? reason : "SIGINT");
}
