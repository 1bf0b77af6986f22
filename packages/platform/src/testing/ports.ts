/**
 * Ports for processes a test starts on fixed ports (`npm start`, Zipkin, a bare Postgres): below
 * the kernel's ephemeral range (32768+), where every port-0 server of the other tests lands.
 */
import { createServer } from 'node:net';

const FIRST = 20_000;
const LAST = 32_000;

/** Where this process draws its next block: random, so parallel jest workers rarely meet. */
let next = FIRST;
let seeded = false;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/**
 * The first port of `size` consecutive ports, each free on 127.0.0.1 when drawn and never handed
 * out before by this process (blocks are aligned to `size`, so two draws never overlap). Random
 * bases drawn per use once landed within ten ports of each other (EADDRINUSE in CI).
 */
export async function freePortBlock(size = 20): Promise<number> {
  const blocks = Math.floor((LAST - FIRST) / size);
  if (!seeded) {
    next = FIRST + size * Math.floor(Math.random() * blocks);
    seeded = true;
  }
  for (let tried = 0; tried < blocks; tried++) {
    const base = next;
    next = base + 2 * size > LAST ? FIRST : base + size;
    const free = await Promise.all(Array.from({ length: size }, (_, i) => canListen(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`no ${size} consecutive free ports between ${FIRST} and ${LAST}`);
}
