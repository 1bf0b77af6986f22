import { DevOutbox } from './dev-outbox';
import type { SmsMessage } from './sms';

/**
 * The development SMS outbox (GET /dev/sms-outbox on the users service): where text messages go
 * when no provider is configured, and a copy of what the provider sent, outside production.
 */
export class DevSmsOutbox extends DevOutbox<SmsMessage> {
  constructor(capacity?: number) {
    super('dev-sms-outbox', {}, capacity);
  }
}
