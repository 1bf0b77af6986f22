import type http from 'node:http';
import type { ApolloServerPlugin, GraphQLRequestContext } from '@apollo/server';
import type { NextFunction, Request, Response } from 'express';
import type { GraphQLError } from 'graphql';
import type { Identity } from '@shop/platform';
import type { RateLimits, Verdict } from './rate-limits';
import { rateLimitedError, rateLimitHeaders } from './rate-limits';
import type { GatewayContext } from './subgraph-data-source';

/**
 * Express middleware in front of GraphQL over HTTP: every request (even one whose body will not
 * parse) takes one point of its caller's `requests` budget. Refused: HTTP 429 with a GraphQL JSON
 * error RATE_LIMITED (`extensions.retryAfterSeconds`) and `Retry-After`; answered or not, the
 * `RateLimit-*` headers tell the client where it stands.
 *
 * `identify` answers the caller's identity (null: anonymous); a bad token counts as anonymous here
 * and is refused later by the GraphQL context.
 */
export function rateLimitRequests(limits: RateLimits, identify: (req: http.IncomingMessage) => Promise<Identity | null>, clientAddress: (req: Request) => string | undefined) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      if (req.method === 'OPTIONS') return next();
      const verdict = charged.has(req) ? charged.get(req) : await chargeRequest(limits, identify, clientAddress(req), req);
      if (!verdict) return next();
      res.set(rateLimitHeaders(verdict));
      if (verdict.allowed) return next();
      sendRequestError(res, rateLimitedError(verdict));
    } catch (error) {
      next(error);
    }
  };
}

/** Requests already charged their point of `requests` before Express (the cached answers' handler, cache/response-cache-http.ts), with the verdict. */
const charged = new WeakMap<http.IncomingMessage, Verdict | null>();

/**
 * Takes the request's point of its caller's `requests` budget (what {@link rateLimitRequests}
 * does for every request), and remembers it: when the request then goes on to
 * rateLimitRequests, it is not charged again and gets this verdict's headers or refusal.
 */
export async function chargeRequest(limits: RateLimits, identify: (req: http.IncomingMessage) => Promise<Identity | null>, address: string | undefined, req: http.IncomingMessage): Promise<Verdict | null> {
  const identity = await identify(req).catch(() => null);
  const verdict = await limits.charge(limits.callerOf(identity, address), 'requests', 1, 'http');
  charged.set(req, verdict);
  return verdict;
}

/**
 * Answers a request refused before GraphQL execution with its error as a GraphQL JSON body and the
 * registry's HTTP status (from a request-level `publicError`); the status travels in the response,
 * not in the error.
 */
export function sendRequestError(res: Response, error: GraphQLError): void {
  const { message, extensions = {} } = error.toJSON();
  const { http: head, ...rest } = extensions as { http?: { status?: number } } & Record<string, unknown>;
  res.status(head?.status ?? 400).json({ errors: [{ message, extensions: rest }] });
}

/** The refusal of each request, for its headers. */
const refusals = new WeakMap<object, Verdict>();

/**
 * The budgets of an operation once its document is resolved: a mutation takes one point of
 * `mutations`, every operation its cost estimate from `cost` (the request itself was counted by
 * {@link rateLimitRequests}). Refused: HTTP 429, RATE_LIMITED and the refused budget's headers.
 */
export function rateLimitOperations(limits: RateLimits): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation(requestContext: GraphQLRequestContext<GatewayContext>) {
          const { operation, contextValue } = requestContext;
          if (!operation) return;
          const caller = limits.callerOf(contextValue.identity, contextValue.clientAddress);
          const verdict = await limits.chargeOperation(caller, operation, 'http', { request: false });
          if (!verdict || verdict.allowed) return;
          refusals.set(requestContext.request, verdict);
          throw rateLimitedError(verdict);
        },
        async willSendResponse({ request, response }) {
          const verdict = refusals.get(request);
          if (!verdict) return;
          for (const [name, value] of Object.entries(rateLimitHeaders(verdict))) response.http.headers.set(name.toLowerCase(), value);
        },
      };
    },
  };
}
