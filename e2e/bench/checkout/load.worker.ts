/** Worker-thread entry of the load generator: runs one phase (workerData: a LoadSpec) and posts its LoadResult. */
import { parentPort, workerData } from 'node:worker_threads';
import type { LoadSpec } from './load';
import { runLoad } from './load';

runLoad(workerData as LoadSpec).then(
  (result) => parentPort!.postMessage({ ok: true, result }),
  (error: unknown) => parentPort!.postMessage({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
);
