import { auditServer } from 'graphql-http';
import { signInternalRequest } from '../internal-request';

/** One audit of graphql-http's GraphQL-over-HTTP suite that did not pass. */
export interface AuditFinding {
  readonly level: 'MUST' | 'SHOULD' | 'MAY';
  readonly name: string;
  readonly reason: string;
}

/**
 * Runs graphql-http's server audit (the GraphQL-over-HTTP spec's MUST/SHOULD/MAY rules) against a
 * GraphQL endpoint and answers every audit that did not pass, with its level and reason. With
 * `asGateway`, every audit request is signed as the gateway signs it (a subgraph answers nobody else).
 */
export async function auditGraphqlOverHttp(url: string, options: { readonly asGateway?: { readonly secret: string; readonly audience: string } } = {}): Promise<AuditFinding[]> {
  const signer = options.asGateway;
  const fetchFn = signer
    ? async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
        const target = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
        const method = (init.method ?? 'GET').toUpperCase();
        const body = typeof init.body === 'string' ? init.body : '';
        const headers = new Headers(init.headers);
        const signed = signInternalRequest({ secret: signer.secret, audience: signer.audience, method, path: `${target.pathname}${target.search}`, body });
        for (const [name, value] of Object.entries(signed)) headers.set(name, value);
        return fetch(input, { ...init, headers });
      }
    : undefined;
  const results = await auditServer({ url, ...(fetchFn ? { fetchFn } : {}) });
  const findings: AuditFinding[] = [];
  for (const result of results) {
    if (result.status === 'ok') continue;
    findings.push({ level: result.name.split(' ')[0] as AuditFinding['level'], name: result.name, reason: result.reason });
  }
  return findings;
}
