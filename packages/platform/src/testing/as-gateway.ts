import type { Identity } from '../identity';
import { signInternalRequest } from '../internal-request';

/** One GraphQL request sent straight to a subgraph, signed as the gateway signs it. */
export interface AsGatewayRequest {
  /** The internal secret the subgraph was started with. */
  readonly secret: string;
  /** The subgraph the signature is minted for (its service name). */
  readonly audience: string;
  readonly query: string;
  readonly variables?: Record<string, unknown>;
  readonly identity?: Identity | null;
  readonly clientAddress?: string;
  readonly ttlSeconds?: number;
  /** ms since the epoch the signature claims. Default now. */
  readonly now?: number;
}

/** A request exactly as the gateway would send it: its body and every header, signature included. */
export function gatewayRequest(url: string, request: AsGatewayRequest): { body: string; headers: Record<string, string> } {
  const target = new URL(url);
  const body = JSON.stringify({ query: request.query, ...(request.variables ? { variables: request.variables } : {}) });
  const signed = signInternalRequest({
    secret: request.secret,
    audience: request.audience,
    method: 'POST',
    path: `${target.pathname}${target.search}`,
    body,
    identity: request.identity ?? null,
    clientAddress: request.clientAddress,
    ...(request.ttlSeconds !== undefined ? { ttlSeconds: request.ttlSeconds } : {}),
    ...(request.now !== undefined ? { now: request.now } : {}),
  });
  return { body, headers: { 'content-type': 'application/json', ...signed } };
}

/** POSTs `request` to a subgraph as the gateway would; answers the HTTP status and the parsed body. */
export async function postAsGateway(url: string, request: AsGatewayRequest): Promise<{ status: number; data?: any; errors?: Array<{ message: string; extensions?: Record<string, any> }> }> {
  const { body, headers } = gatewayRequest(url, request);
  return send(url, headers, body);
}

/** POSTs a captured request (headers and body) again: a replay. */
export async function send(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; data?: any; errors?: Array<{ message: string; extensions?: Record<string, any> }> }> {
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  let parsed: object = {};
  try {
    parsed = JSON.parse(text) as object;
  } catch {
    parsed = { errors: [{ message: text.slice(0, 200) }] };
  }
  return { status: res.status, ...parsed };
}
