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

/** What {@link keepAlive} needs of a WebSocket (the `ws` package's). */
export interface PingableSocket {
  readonly readyState: number;
  readonly OPEN: number;
  ping(): void;
  terminate(): void;
  on(event: 'pong', listener: () => void): unknown;
}

/**
 * Every socket kept alive at one interval, on ONE timer (not a ping interval and a pong timeout per
 * socket: at 50 000 connections those were 100 000 timers, ~0.5 KiB a connection). Each socket is
 * pinged `intervalMs` after it was added, then every `intervalMs`; a socket whose pong has not come
 * by its next ping is terminated. The timer ticks every eighth of the interval (so a socket's ping
 * is up to that late) and stops when no socket is left.
 */
class KeepAliveGroup {
  /** When each socket is due for its next ping (ms since the epoch). */
  private readonly due = new Map<PingableSocket, number>();
  /** Sockets pinged whose pong has not come yet. */
  private readonly waiting = new Set<PingableSocket>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly onEmpty: () => void,
  ) {}

  add(socket: PingableSocket): () => void {
    this.due.set(socket, Date.now() + this.intervalMs);
    socket.on('pong', () => this.waiting.delete(socket));
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), Math.max(10, Math.floor(this.intervalMs / 8)));
      this.timer.unref();
    }
    return () => this.remove(socket);
  }

  private remove(socket: PingableSocket): void {
    if (!this.due.delete(socket)) return;
    this.waiting.delete(socket);
    if (this.due.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.onEmpty();
    }
  }

  private tick(): void {
    const now = Date.now();
    for (const [socket, at] of this.due) {
      if (at > now) continue;
      if (this.waiting.has(socket)) {
        // No pong since the last ping, a whole interval ago: a dead peer.
        this.remove(socket);
        socket.terminate();
        continue;
      }
      this.due.set(socket, now + this.intervalMs);
      if (socket.readyState !== socket.OPEN) continue;
      this.waiting.add(socket);
      socket.ping();
    }
  }
}

const groups = new Map<number, KeepAliveGroup>();

/**
 * Pings `socket` every `intervalMs` while it is open, terminating it when a pong is later than that
 * (the next ping is due before the pong came); answers the stopper. All sockets of one interval
 * share one timer ({@link KeepAliveGroup}).
 */
export function keepAlive(socket: PingableSocket, intervalMs: number): () => void {
  let group = groups.get(intervalMs);
  if (!group) {
    const created: KeepAliveGroup = new KeepAliveGroup(intervalMs, () => {
      if (groups.get(intervalMs) === created) groups.delete(intervalMs);
    });
    group = created;
    groups.set(intervalMs, group);
  }
  return group.add(socket);
}
