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

/** Staging stopped by a signal; the run is finalized as terminated. */
export class RunInterrupted extends Error {
  constructor(readonly sig: StopSignal) {
    super(`interrupted by ${sig}`);
    this.name = "RunInterrupted";
  }
}
