/**
 * The invariants a chaos run must leave intact, each read from the shop's own databases, the
 * broker and the payment ledger once the load is over and the orders are final:
 * every acknowledged order in exactly one final state, stock conserved per product, no duplicate
 * reservation, no double charge or refund, outboxes drained, dead-letter topics empty, and the
 * catalogue answering while inventory or orders was down.
 */
import { Kafka, logLevel } from 'kafkajs';
import type { Ack, LoadResult } from '../bench/checkout/load';
import { checkStock, phaseCorrectness } from '../bench/checkout/run';
import type { OrderState } from '../bench/checkout/shop-state';
import { benchPool, ShopState } from '../bench/checkout/shop-state';
import type { FaultStep, FaultTimes } from './faults';
import type { PaymentLedger } from './payment-ledger';
import type { Subgraph } from './shop';
import { SUBGRAPHS } from './shop';
import { sleep } from './supervisor';
import { Timeline } from './timeline';

export interface InvariantResult {
  readonly name: string;
  readonly ok: boolean;
  /** What was counted (and, when it failed, what broke). */
  readonly detail: string;
}

export interface InvariantInputs {
  readonly databaseUrl: (name: Subgraph) => string;
  readonly brokers: readonly string[];
  readonly ledger: PaymentLedger;
  /** The idempotency-key prefix of every order of the run. */
  readonly keyPrefix: string;
  readonly productIds: readonly string[];
  /** Every load of the run (all under `keyPrefix`). */
  readonly loads: readonly LoadResult[];
  readonly timeline: Timeline;
  readonly faults: ReadonlyArray<{ readonly step: FaultStep; readonly times: FaultTimes }>;
}

const LATER_STATES = "('CONFIRMED', 'CANCELLED', 'SHIPPED', 'DELIVERED')";

export async function checkInvariants(input: InvariantInputs): Promise<InvariantResult[]> {
  const state = ShopState.open(input.databaseUrl('orders'), input.databaseUrl('inventory'));
  const orders = benchPool(input.databaseUrl('orders'));
  try {
    const all = await state.ordersWithPrefix(input.keyPrefix);
    return [
      await finalStates(input, all, orders),
      ...(await stock(input, state, all)),
      await payments(input, all, orders),
      await outboxes(input),
      await deadLetters(input),
      catalogue(input),
    ];
  } finally {
    await Promise.all([state.close(), orders.end()]);
  }
}

/** Every acknowledged order exists once, is final, and its history never holds two outcomes (say CONFIRMED and REJECTED). */
async function finalStates(input: InvariantInputs, all: readonly OrderState[], pool: ReturnType<typeof benchPool>): Promise<InvariantResult> {
  const merged: LoadResult = {
    startedAt: 0,
    endsAt: 0,
    settledAt: 0,
    acks: input.loads.flatMap((l): Ack[] => l.acks),
    sent: input.loads.reduce((n, l) => n + l.sent, 0),
    errors: {},
    uncertainKeys: input.loads.flatMap((l) => l.uncertainKeys),
    dropped: 0,
    maxScheduleLagMs: 0,
  };
  const c = phaseCorrectness(merged.acks, all, merged);
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (
       SELECT o.id FROM orders o JOIN order_status_change c ON c.order_id = o.id
       WHERE o.idempotency_key LIKE $1
       GROUP BY o.id
       HAVING count(*) <> count(DISTINCT c.status)
           OR (bool_or(c.status = 'REJECTED') AND bool_or(c.status IN ${LATER_STATES}))) twice`,
    [`${input.keyPrefix}%`],
  );
  const twoOutcomes = rows[0]!.n;
  const outcomes: Record<string, number> = {};
  for (const o of all) outcomes[o.status] = (outcomes[o.status] ?? 0) + 1;
  const ok = c.lost + c.notFinal + c.duplicated + c.unexplained + twoOutcomes === 0 && c.acknowledged > 0;
  return {
    name: 'every acknowledged order in exactly one final state',
    ok,
    detail:
      `${c.acknowledged} acknowledged, ${all.length} orders (${Object.entries(outcomes).map(([s, n]) => `${s} ${n}`).join(', ')}); ` +
      `lost ${c.lost}, not final ${c.notFinal}, duplicated ${c.duplicated}, unexplained ${c.unexplained}, two outcomes ${twoOutcomes}; ` +
      `orders of failed requests whose answer was lost: ${c.ordersOfFailedRequests}`,
  };
}

/**
 * Stock conserved: nothing is shipped or adjusted in the run, so each product's on-hand is still
 * its initial stock and its reserved count is exactly the units of its confirmed orders (and of
 * its open reservation lines). No duplicate reservation: every confirmed order holds exactly its
 * lines, once, and no rejected order holds anything.
 */
async function stock(input: InvariantInputs, state: ShopState, all: readonly OrderState[]): Promise<InvariantResult[]> {
  const checked = await checkStock(state, input.productIds, input.keyPrefix);
  const confirmedUnits = new Map<string, number>();
  for (const o of all) {
    if (o.status !== 'CONFIRMED') continue;
    for (const i of o.items) confirmedUnits.set(i.productId, (confirmedUnits.get(i.productId) ?? 0) + i.quantity);
  }
  const levels = await state.stock(input.productIds);
  const broken = levels.filter((s) => s.onHand !== s.initialOnHand || s.reserved !== (confirmedUnits.get(s.productId) ?? 0));
  const reservedUnits = levels.reduce((n, s) => n + s.reserved, 0);
  return [
    {
      name: 'stock conserved per product',
      ok: broken.length === 0 && checked.oversoldUnits === 0 && checked.negative === 0 && levels.length === input.productIds.length,
      detail:
        `${levels.length}/${input.productIds.length} products, ${reservedUnits} units reserved for confirmed orders; ` +
        `products whose on-hand moved or whose reserved differs from their confirmed units: ${broken.length}, oversold units ${checked.oversoldUnits}, negative or missing ${checked.negative}`,
    },
    {
      name: 'no duplicate reservation',
      ok: checked.reservedMismatch === 0 && checked.orderInventoryMismatch === 0,
      detail: `products whose reserved count differs from their reservation lines: ${checked.reservedMismatch}; orders holding other than their own lines: ${checked.orderInventoryMismatch}`,
    },
  ];
}

/**
 * From the payment provider's own ledger (it outlives every orders process): at most one successful
 * charge per order, no second refund, every confirmed order charged exactly once and not refunded
 * (and orders records that charge), every rejected or cancelled order's charge refunded.
 */
async function payments(input: InvariantInputs, all: readonly OrderState[], pool: ReturnType<typeof benchPool>): Promise<InvariantResult> {
  const { ledger } = input;
  const charged = new Map<string, string[]>();
  for (const c of ledger.charges) if (c.succeeded) charged.set(c.orderId, [...(charged.get(c.orderId) ?? []), c.id]);
  const refunds = new Map<string, number>();
  for (const r of ledger.refunds) refunds.set(r.chargeId, (refunds.get(r.chargeId) ?? 0) + 1);
  const { rows } = await pool.query<{ orderId: string; status: string; chargeId: string | null }>(
    `SELECT p.order_id AS "orderId", p.status, p.charge_id AS "chargeId" FROM payment p JOIN orders o ON o.id = p.order_id WHERE o.idempotency_key LIKE $1`,
    [`${input.keyPrefix}%`],
  );
  const payment = new Map(rows.map((r) => [r.orderId, r]));
  const doubleCharged = [...charged.values()].filter((ids) => ids.length > 1).length;
  const doubleRefunded = [...refunds.values()].filter((n) => n > 1).length;
  let confirmedWrong = 0;
  let keptMoney = 0;
  for (const o of all) {
    const charges = charged.get(o.id) ?? [];
    const unrefunded = charges.filter((id) => !refunds.has(id));
    if (o.status === 'CONFIRMED') {
      const p = payment.get(o.id);
      if (charges.length !== 1 || unrefunded.length !== 1 || p?.status !== 'CAPTURED' || p.chargeId !== charges[0]) confirmedWrong++;
    } else if (unrefunded.length > 0) {
      keptMoney++;
    }
  }
  const ok = doubleCharged + doubleRefunded + confirmedWrong + keptMoney + ledger.secondRefundRequests === 0;
  return {
    name: 'no double charge or refund',
    ok,
    detail:
      `ledger: ${ledger.charges.filter((c) => c.succeeded).length} charges, ${ledger.refunds.length} refunds; orders charged twice ${doubleCharged}, charges refunded twice ${doubleRefunded}, ` +
      `second refund requests ${ledger.secondRefundRequests}, confirmed orders not charged exactly once ${confirmedWrong}, other orders whose charge was kept ${keptMoney}`,
  };
}

/** Every service's outbox is empty (each event published); polled for a while, the relays may be finishing. */
async function outboxes(input: InvariantInputs): Promise<InvariantResult> {
  const count = async (): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    for (const name of SUBGRAPHS) {
      const pool = benchPool(input.databaseUrl(name), 1);
      try {
        out[name] = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox')).rows[0]!.n;
      } finally {
        await pool.end();
      }
    }
    return out;
  };
  const deadline = Date.now() + 30_000;
  let left = await count();
  while (Object.values(left).some((n) => n > 0) && Date.now() < deadline) {
    await sleep(1_000);
    left = await count();
  }
  return { name: 'outboxes drained', ok: Object.values(left).every((n) => n === 0), detail: Object.entries(left).map(([s, n]) => `${s} ${n}`).join(', ') };
}

/** Nothing was dead-lettered: every `dlq.*` topic is empty (or was never created). */
async function deadLetters(input: InvariantInputs): Promise<InvariantResult> {
  const admin = new Kafka({ clientId: 'chaos-invariants', brokers: [...input.brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith('dlq.'));
    const counts: Record<string, number> = {};
    for (const topic of topics) {
      counts[topic] = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
    }
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const nonEmpty = Object.entries(counts).filter(([, n]) => n > 0);
    return {
      name: 'dead-letter topics empty',
      ok: total === 0,
      detail: topics.length === 0 ? 'no dead-letter topic was ever created' : `${topics.length} topics, ${total} messages${nonEmpty.length ? ` (${nonEmpty.map(([t, n]) => `${t} ${n}`).join(', ')})` : ''}`,
    };
  } finally {
    await admin.disconnect();
  }
}

/** While inventory or orders was down (kill to ready again), every catalogue read answered, and there were reads. */
function catalogue(input: InvariantInputs): InvariantResult {
  const windows = input.faults.filter((f) => f.step.target === 'inventory' || f.step.target === 'orders');
  const parts = windows.map((f) => ({ name: f.step.target, ...Timeline.stats(input.timeline.reads, f.times.injectedAt, f.times.readyAt) }));
  const ok = parts.length > 0 && parts.every((p) => p.ok > 0 && p.failed === 0);
  return {
    name: 'catalogue answered while inventory or orders was down',
    ok,
    detail: parts.map((p) => `${p.name} down: ${p.ok} reads ok, ${p.failed} failed${p.failed ? ` (${formatCodes(p.codes)})` : ''}`).join('; ') || 'no inventory or orders fault ran',
  };
}

export function formatCodes(codes: Record<string, number>): string {
  return Object.entries(codes)
    .sort((a, b) => b[1] - a[1])
    .map(([c, n]) => `${c} ${n}`)
    .join(', ');
}
