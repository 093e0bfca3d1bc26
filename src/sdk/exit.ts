// Owns the SDK's part in how a process ends: flush on natural exit and on SIGTERM/SIGINT within a deadline, then end
// as the process would have; spool synchronously on process.exit() and uncaught exceptions.

export interface ExitTarget {
  /** Flushes and stops (async): when the event loop has emptied. */
  shutdown(): Promise<unknown>;
  /** Flushes (async; bounded by the deadline here): on a signal, after which the host may go on tracking. */
  flush(): Promise<unknown>;
  /** Writes what is still unsent to the spool, synchronously. */
  spoolUnsent(): number;
}

export interface ExitOptions {
  /** How long SIGTERM/SIGINT wait for the flush before the process ends. Default 2000 ms. */
  deadlineMs?: number;
}

export const DEFAULT_EXIT_DEADLINE_MS = 2_000;

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Installs the handlers; returns a function that removes them. */
export function installExitHandlers(target: ExitTarget, options: ExitOptions = {}): () => void {
  const deadlineMs = options.deadlineMs ?? DEFAULT_EXIT_DEADLINE_MS;
  let flushing: Promise<unknown> | undefined;

  // The event loop emptied: there is time for an async flush (beforeExit fires again once it is done).
  const onBeforeExit = () => {
    flushing ??= target.shutdown();
  };
  // process.exit(), an uncaught exception, or the end after beforeExit: only synchronous work happens now.
  const onExit = () => {
    target.spoolUnsent();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalSeen.has(signal)) return;
    signalSeen.add(signal);
    const flushed = target.flush();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise((resolve) => {
      timer = setTimeout(resolve, deadlineMs);
    });
    void Promise.race([flushed, deadline]).then(() => {
      clearTimeout(timer);
      target.spoolUnsent();
      remove();
      // With its own handler the host decides how to end (it has run already); else end as the signal would have,
      // once the last client still flushing is done.
      const listeners = process.listeners(signal);
      if (listeners.length === 0) process.kill(process.pid, signal);
    });
  };
  const signalSeen = new Set<NodeJS.Signals>();
  const handlers = new Map<NodeJS.Signals, () => void>(SIGNALS.map((s) => [s, () => onSignal(s)]));

  process.on('beforeExit', onBeforeExit);
  process.on('exit', onExit);
  for (const [signal, handler] of handlers) process.on(signal, handler);

  const remove = () => {
    process.off('beforeExit', onBeforeExit);
    for (const [signal, handler] of handlers) process.off(signal, handler);
    // 'exit' stays until the process ends: a process.exit() after the flush still spools whatever came after.
  };
  return () => {
    remove();
    process.off('exit', onExit);
  };
}
