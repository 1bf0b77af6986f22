import { randomUUID } from 'node:crypto';
import type { EventDefinition } from '@shop/events';
import { z } from 'zod';
import { PoisonMessageError } from './bus';


/** What travels on the bus (JSON), for every event. */
export interface EventEnvelope<T = unknown> {
  readonly id: string;
  readonly type: string;
  /** The aggregate id; the partitioning key. */
  readonly key: string;
  readonly occurredAt: string;
  /** The service that published it. */
  readonly source: string;
  readonly data: T;
  /** Propagated context (W3C trace context etc.), mirrored into message headers. */
  readonly meta?: Readonly<Record<string, string>>;
}

const envelopeSchema = z.object({
  id: z.string().min(1),
  type: z.string().min(1),
  key: z.string(),
  occurredAt: z.string(),
  source: z.string(),
  data: z.unknown(),
  meta: z.record(z.string(), z.string()).optional(),
});

export function createEnvelope<T>(source: string, def: EventDefinition<T>, key: string, data: NoInfer<T>, meta?: Record<string, string>): EventEnvelope<T> {
  return { id: randomUUID(), type: def.type, key, occurredAt: new Date().toISOString(), source, data, ...(meta ? { meta } : {}) };
}

/** Parses a raw bus value into an envelope; a malformed one is a poison message (dead-lettered at once). */
export function parseEnvelope(value: string): EventEnvelope {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new PoisonMessageError('event is not valid JSON');
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) throw new PoisonMessageError(`invalid event envelope: ${describeIssue(parsed.error)}`);
  return parsed.data as EventEnvelope;
}

/** Validates an envelope's data against its definition; invalid data is a poison message. */
export function parseEventData<T>(def: EventDefinition<T>, envelope: EventEnvelope): EventEnvelope<T> {
  const parsed = def.schema.safeParse(envelope.data);
  if (!parsed.success) throw new PoisonMessageError(`invalid ${def.type} payload: ${describeIssue(parsed.error)}`);
  return { ...envelope, data: parsed.data };
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid';
}
