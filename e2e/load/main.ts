/**
 * `npm run load`: a bounded, seeded shopper mix against a running shop (see load.ts).
 *
 *   npm run load -- [--rate 10] [--duration 60] [--seed 1] [--url http://127.0.0.1:4000/graphql] [--mix shopper|storefront] [--only kind,kind]
 *
 * Admin adjustments sign in with ADMIN_EMAIL (default admin@shop.local) and ADMIN_PASSWORD (the
 * one npm start printed or was given); without ADMIN_PASSWORD they are skipped. Loopback only.
 * Prints a progress line every second and a summary table at the end; exits 1 when more than 5%
 * of the operations got an unexpected answer.
 */
import { parseArgs } from 'node:util';
import { runLoad } from './load';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '10' },
    duration: { type: 'string', default: '60' },
    seed: { type: 'string', default: '1' },
    url: { type: 'string', default: `http://127.0.0.1:${process.env['PORT'] ?? '4000'}/graphql` },
    subscriptions: { type: 'string', default: '3' },
    mix: { type: 'string', default: 'shopper' },
    only: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

function fail(message: string): never {
  process.stderr.write(`npm run load: ${message}\n`);
  process.exit(2);
}

if (values.help) {
  process.stdout.write('npm run load -- [--rate ops/s (10)] [--duration s (60)] [--seed n (1)] [--url gateway (http://127.0.0.1:4000/graphql)] [--subscriptions n (3)] [--mix shopper|storefront (shopper; storefront: the issue-16 reads, no writes)] [--only kind,kind (only these operations of the mix, e.g. "me with orders")]\n');
  process.exit(0);
}
const rate = Number(values.rate);
const duration = Number(values.duration);
const seed = Number(values.seed);
const subscriptions = Number(values.subscriptions);
if (!(rate > 0 && rate <= 500)) fail(`--rate must be between 0 and 500 operations per second, got ${values.rate}`);
if (!(duration > 0 && duration <= 3600)) fail(`--duration must be between 0 and 3600 seconds, got ${values.duration}`);
if (!Number.isInteger(seed)) fail(`--seed must be an integer, got ${values.seed}`);
if (!(Number.isInteger(subscriptions) && subscriptions >= 0 && subscriptions <= 100)) fail(`--subscriptions must be 0-100, got ${values.subscriptions}`);
if (values.mix !== 'shopper' && values.mix !== 'storefront') fail(`--mix must be shopper or storefront, got ${values.mix}`);
const mix = values.mix;
let url: URL;
try {
  url = new URL(values.url);
} catch {
  fail(`--url is not a URL: ${values.url}`);
}
// The machine's rule: load goes to this machine only.
if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) && !url.hostname.startsWith('127.')) fail(`--url must be on loopback (127.0.0.0/8, localhost, [::1]), got ${url.hostname}`);

const tty = Boolean(process.stderr.isTTY);
const adminPassword = process.env['ADMIN_PASSWORD'];
const admin = adminPassword ? { email: process.env['ADMIN_EMAIL'] ?? 'admin@shop.local', password: adminPassword } : undefined;

runLoad({
  url: url.toString(),
  rate,
  durationSeconds: duration,
  seed,
  subscriptions,
  admin,
  mix,
  only: values.only?.split(',').map((k) => k.trim()).filter(Boolean),
  onProgress: (p) => {
    const line = `${p.elapsedSeconds.toFixed(0).padStart(4)} s  ${String(p.completed).padStart(6)} done  ${p.rate.toFixed(0).padStart(4)}/s  ${String(p.errors).padStart(4)} errors  p95 ${p.p95Ms.toFixed(0).padStart(5)} ms  ${p.subscriptionEvents} subscription events`;
    process.stderr.write(tty ? `\r${line}` : `${line}\n`);
  },
})
  .then((s) => {
    if (tty) process.stderr.write('\n');
    const rows = s.kinds.map((k) => `| ${k.kind.padEnd(18)} | ${String(k.count).padStart(6)} | ${String(k.errors).padStart(6)} | ${k.p50Ms.toFixed(1).padStart(8)} | ${k.p95Ms.toFixed(1).padStart(8)} |`);
    process.stdout.write(
      [
        '',
        `Load: ${s.completed} operations in ${s.seconds.toFixed(1)} s (${(s.completed / s.seconds).toFixed(1)}/s; asked ${rate}/s, seed ${seed}), ${s.errors} unexpected answers, ${s.dropped} dropped (too many in flight), ${s.subscriptionEvents} subscription events; orders via ${s.checkoutPath}`,
        '',
        '| operation          |  count | errors |  p50 ms  |  p95 ms  |',
        '|--------------------|--------|--------|----------|----------|',
        ...rows,
        '',
        ...(s.skipped.length ? [`Skipped: ${s.skipped.join('; ')}`] : []),
        ...(s.errorSamples.length ? ['Unexpected answers (the first two of each kind):', ...s.errorSamples.map((e) => `  ${e}`)] : []),
        '',
      ].join('\n'),
    );
    process.exit(s.errors > s.completed * 0.05 ? 1 : 0);
  })
  .catch((error: unknown) => {
    if (tty) process.stderr.write('\n');
    fail(error instanceof Error ? error.message : String(error));
  });
