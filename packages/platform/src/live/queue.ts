/**
 * The one async queue behind every live stream: a subgraph's pub/sub subscriber, and each client
 * subscription at the gateway. Values pushed in order are taken in order; the queue is bounded,
 * and what an overflow does is the owner's choice.
 */

export interface AsyncQueueOptions<T, R = T> {
  /** Values held for a reader that has not taken them yet; one more is an overflow. */
  readonly capacity: number;
  /**
   * What an overflow does. `fail`: no more values are accepted; the reader takes those already
   * queued, then `next()` throws `overflowError()`. `discard`: the backlog and every later value
   * are dropped at once and `onOverflow` runs (the owner then drops the reader).
   */
  readonly overflow: 'fail' | 'discard';
  readonly overflowError?: () => Error;
  readonly onOverflow?: () => void;
  /** What the reader gets for each value, at the moment it takes it (e.g. to measure delivery). Default the value itself. */
  readonly take?: (value: T) => R;
  /** Runs once when the queue closes, whoever closes it (reader, `end`, overflow). */
  readonly onClose?: () => void;
}

export class AsyncQueue<T, R = T> implements AsyncGenerator<R, undefined, unknown> {
  private readonly values: T[] = [];
  private wake: (() => void) | undefined;
  private ending = false;
  private closed = false;
  private overflowed = false;
  private failure: Error | undefined;
  private resolveFinished!: () => void;
  /** Resolves when the queue has closed. */
  readonly finished = new Promise<void>((resolve) => (this.resolveFinished = resolve));

  constructor(private readonly options: AsyncQueueOptions<T, R>) {}

  /** Values waiting for the reader. */
  get size(): number {
    return this.values.length;
  }

  /** True once the queue accepts nothing more (ending, overflowed or closed). */
  get isEnding(): boolean {
    return this.ending || this.closed || this.overflowed;
  }

  /** Queues a value; answers false when it was not accepted (ending, closed, or an overflow). */
  push(value: T): boolean {
    if (this.isEnding) return false;
    if (this.values.length >= this.options.capacity) {
      this.overflowed = true;
      if (this.options.overflow === 'fail') {
        this.failure = this.options.overflowError?.() ?? new Error(`more than ${this.options.capacity} values were not taken`);
        this.ending = true;
      } else {
        this.values.length = 0;
      }
      this.options.onOverflow?.();
      this.wake?.();
      return false;
    }
    this.values.push(value);
    this.wake?.();
    return true;
  }

  /** Ends the stream after the queued values (and `last`, if given). */
  end(last?: T): void {
    if (this.ending || this.closed) return;
    if (last !== undefined) this.values.push(last);
    this.ending = true;
    this.wake?.();
  }

  /** Ends the stream now: values not taken yet are dropped, and `last` (if given) is the final one. */
  endNow(last?: T): void {
    if (this.closed) return;
    this.values.length = 0;
    if (last !== undefined) this.values.push(last);
    this.ending = true;
    this.wake?.();
  }

  async next(): Promise<IteratorResult<R, undefined>> {
    for (;;) {
      if (this.closed) return { done: true, value: undefined };
      if (this.values.length) {
        const value = this.values.shift() as T;
        return { done: false, value: this.options.take ? this.options.take(value) : (value as unknown as R) };
      }
      if (this.failure) {
        const error = this.failure;
        this.failure = undefined;
        this.close();
        throw error;
      }
      if (this.ending) {
        this.close();
        return { done: true, value: undefined };
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  /** The reader is done (it completed, its socket closed, or it stopped reading). */
  async return(): Promise<IteratorResult<R, undefined>> {
    this.close();
    return { done: true, value: undefined };
  }

  async throw(error: unknown): Promise<IteratorResult<R, undefined>> {
    this.close();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.values.length = 0;
    this.wake?.();
    this.options.onClose?.();
    this.resolveFinished();
  }
}

/** What a {@link mapStream} map answers to leave a value out of the stream. */
export const SKIP: unique symbol = Symbol('skip');

/**
 * Maps a stream one value at a time (results keep the values' order; a map that answers
 * {@link SKIP} leaves that value out). Unlike an async generator, `return()` reaches the source at
 * once, even while a `next()` waits for a value, so a reader that leaves never keeps a
 * subscription open. `onEnd` runs once, however the stream ends.
 */
export function mapStream<T, R>(source: AsyncIterable<T>, map: (value: T) => Promise<R | typeof SKIP>, onEnd: () => void): AsyncGenerator<R, undefined, unknown> {
  const it = source[Symbol.asyncIterator]();
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  const generator: AsyncGenerator<R, undefined, unknown> = {
    async next() {
      try {
        for (;;) {
          const step = await it.next();
          if (step.done) {
            end();
            return { done: true, value: undefined };
          }
          const mapped = await map(step.value);
          if (mapped !== SKIP) return { done: false, value: mapped };
        }
      } catch (error) {
        end();
        throw error;
      }
    },
    async return() {
      end();
      await it.return?.();
      return { done: true, value: undefined };
    },
    async throw(error: unknown) {
      end();
      await it.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return generator;
    },
    async [Symbol.asyncDispose]() {
      await generator.return(undefined);
    },
  };
  return generator;
}
