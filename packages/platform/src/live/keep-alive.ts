/**
 * Dead-peer detection for WebSockets, on either side: after each ping, the peer has `timeoutMs` to
 * answer with a pong, or `onDead` runs (terminate the socket; a client then reconnects).
 */
export class PongWatch {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly onDead: () => void,
  ) {}

  /** A ping went out: start waiting for its pong (an earlier wait still running is kept). */
  pinged(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.onDead();
    }, this.timeoutMs);
  }

  /** A pong came in (or the socket closed): stop waiting. */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Pings `socket` every `intervalMs` while it is open, terminating it when a pong is later than that; answers the stopper. */
export function keepAlive(
  socket: { readonly readyState: number; readonly OPEN: number; ping(): void; terminate(): void; on(event: 'pong', listener: () => void): unknown },
  intervalMs: number,
): () => void {
  const watch = new PongWatch(intervalMs, () => socket.terminate());
  const ping = setInterval(() => {
    if (socket.readyState !== socket.OPEN) return;
    watch.pinged();
    socket.ping();
  }, intervalMs);
  socket.on('pong', () => watch.clear());
  return () => {
    clearInterval(ping);
    watch.clear();
  };
}
