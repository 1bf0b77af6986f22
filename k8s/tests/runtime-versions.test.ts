/**
 * The runtimes the shop is developed and tested on are the ones it is deployed on: the Kafka
 * version of the dev/test broker (scripts/kafka) is the one the Strimzi cluster runs, and the images
 * are built on the Node.js LTS line CI runs, which package.json's engines admit.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../lib/kustomize';

const read = (file: string): string => readFileSync(path.join(REPO_ROOT, file), 'utf8');

it('should run the dev and test broker on the Kafka version the Strimzi cluster deploys', () => {
  const cluster = parse(read('k8s/base/kafka/kafka.yaml')) as { spec: { kafka: { version: string } } };
  const { KAFKA_VERSION: _chosenForThisRun, ...env } = process.env; // the default, not a run's override
  const broker = execFileSync('bash', [path.join(REPO_ROOT, 'scripts/kafka/kafka.sh'), 'version'], { env, encoding: 'utf8' }).trim();
  expect(broker).toBe(String(cluster.spec.kafka.version));
  expect(broker).toMatch(/^4\./);
});

it('should build the images on the Node.js LTS line that CI runs and package.json admits', () => {
  const dockerMajor = Number(/^ARG NODE_MAJOR=(\d+)$/m.exec(read('Dockerfile'))?.[1]);
  const ensureNode = read('scripts/ensure-node.sh');
  const ciMajor = Number(/major="\$\{NODE_MAJOR:-(\d+)\}"/.exec(ensureNode)?.[1]);
  const ciVersion = /version="\$\{NODE_VERSION:-([\d.]+)\}"/.exec(ensureNode)?.[1];
  const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
  const floor = Number(/^>=(\d+)/.exec(engines)?.[1]);
  expect({ dockerMajor, ciVersionMajor: Number(ciVersion?.split('.')[0]), engineFloorAtMost: floor <= ciMajor, engineFloorIsLts: floor % 2 === 0 && floor >= 22 }).toEqual({
    dockerMajor: ciMajor,
    ciVersionMajor: ciMajor,
    engineFloorAtMost: true,
    engineFloorIsLts: true,
  });
});
