/**
 * The Twilio adapter of the SMS port, on Twilio's REST API (`POST /2010-04-01/Accounts/{sid}/
 * Messages.json`, form-encoded, HTTP Basic auth with the account SID and auth token) through
 * Node's built-in fetch. Not the `twilio` SDK: we call one endpoint, and the SDK brings axios and
 * a large generated client for it (no new dependency this way); `baseUrl` lets the tests point
 * the adapter at a local fake of the API.
 */
import type { SmsMessage, SmsSender } from './sms';
import { PermanentDeliveryError } from './sms';

/** Settings of the Twilio adapter (TWILIO_* variables). */
export interface TwilioSettings {
  readonly accountSid: string;
  readonly authToken: string;
  /** Sender: a Twilio phone number (E.164) or a Messaging Service SID (`MG…`). */
  readonly from: string;
  /** Default https://api.twilio.com (tests: a local fake). */
  readonly baseUrl?: string;
  /** Per request. Default 10000 ms: a stuck provider must not hold the dispatcher's row locks. */
  readonly timeoutMs?: number;
}

/** Twilio error codes that retrying cannot fix (invalid or unreachable number, opted out, not permitted). */
const PERMANENT_TWILIO_CODES = new Set([21211, 21408, 21610, 21612, 21614]);

export class TwilioSms implements SmsSender {
  readonly kind = 'twilio';

  constructor(private readonly settings: TwilioSettings) {}

  async send(message: SmsMessage): Promise<void> {
    const { accountSid, authToken, from } = this.settings;
    const url = new URL(`/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`, this.settings.baseUrl ?? 'https://api.twilio.com');
    const form = new URLSearchParams({ To: message.to, Body: message.text });
    form.set(from.startsWith('MG') ? 'MessagingServiceSid' : 'From', from);
    const timeout = this.settings.timeoutMs ?? 10_000;
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: form.toString(),
      signal: AbortSignal.timeout(timeout),
    });
    const text = await res.text();
    if (res.status === 201 || res.status === 200) return;
    let detail: { code?: number; message?: string } = {};
    try {
      detail = JSON.parse(text) as typeof detail;
    } catch {
      // not JSON (a proxy's page): the status says enough
    }
    const reason = `Twilio answered ${res.status}${detail.code ? ` (code ${detail.code})` : ''}: ${detail.message ?? text.slice(0, 200)}`;
    // 4xx other than 429 with a known code cannot succeed later; 429, 5xx and the rest are retried.
    if (res.status === 401 || res.status === 403) throw new Error(reason); // a credential fix may come: retry until the limit
    if (res.status >= 400 && res.status < 500 && res.status !== 429 && detail.code !== undefined && PERMANENT_TWILIO_CODES.has(detail.code)) throw new PermanentDeliveryError(reason);
    throw new Error(reason);
  }

  async close(): Promise<void> {
    // undici's global dispatcher keeps no connection that needs closing here
  }
}
