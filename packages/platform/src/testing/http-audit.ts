import { auditServer } from 'graphql-http';

/** One audit of graphql-http's GraphQL-over-HTTP suite that did not pass. */
export interface AuditFinding {
  readonly level: 'MUST' | 'SHOULD' | 'MAY';
  readonly name: string;
  readonly reason: string;
}

/**
 * Runs graphql-http's server audit (the GraphQL-over-HTTP spec's MUST/SHOULD/MAY rules) against a
 * GraphQL endpoint and answers every audit that did not pass, with its level and reason.
 */
export async function auditGraphqlOverHttp(url: string): Promise<AuditFinding[]> {
  const results = await auditServer({ url });
  const findings: AuditFinding[] = [];
  for (const result of results) {
    if (result.status === 'ok') continue;
    findings.push({ level: result.name.split(' ')[0] as AuditFinding['level'], name: result.name, reason: result.reason });
  }
  return findings;
}
