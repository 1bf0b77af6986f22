import { counter, histogram } from '@shop/platform';

/**
 * Business metrics of the users service. Named `users_…` so that, when several services share a
 * process, only the users endpoint serves them. Every label has a small, fixed set of values.
 */
export function usersMetrics() {
  return {
    /** outcome: success | failure; reason: ok | unknown_account | wrong_password | rate_limited | invalid_input. */
    logins: counter({ name: 'users_logins_total', help: 'Login attempts, by outcome and reason.', labelNames: ['outcome', 'reason'] }),
    /** outcome: created | conflict | invalid | rate_limited. */
    registrations: counter({ name: 'users_registrations_total', help: 'Registration attempts, by outcome.', labelNames: ['outcome'] }),
    /** outcome: rotated | reused | expired | revoked | unknown. */
    refreshes: counter({ name: 'users_token_refreshes_total', help: 'Refresh token presentations, by outcome (reused = a rotated token presented again: its session is revoked).', labelNames: ['outcome'] }),
    sessionsRevoked: counter({ name: 'users_sessions_revoked_total', help: 'Sessions revoked, by reason.', labelNames: ['reason'] }),
    /** stage: requested | completed | invalid_token. */
    passwordResets: counter({ name: 'users_password_resets_total', help: 'Password reset requests and completions.', labelNames: ['stage'] }),
    /**
     * channel: EMAIL | SMS; category: account | orderUpdates | backInStock | marketing;
     * outcome: sent | failed (an attempt refused, retried later) | dead_lettered (given up).
     */
    notifications: counter({ name: 'users_notifications_total', help: 'Notification delivery attempts, by channel, category and outcome.', labelNames: ['channel', 'category', 'outcome'] }),
    /** channel: EMAIL | SMS. */
    notificationSendSeconds: histogram({ name: 'users_notification_send_duration_seconds', help: 'Time for a transport to accept one notification.', labelNames: ['channel'] }),
    /** Back-in-stock requests by stage: requested | triggered | notified. */
    stockNotifications: counter({ name: 'users_stock_notifications_total', help: 'Back-in-stock requests, by stage.', labelNames: ['stage'] }),
    /** stage: requested | verified | invalid_token. */
    emailVerifications: counter({ name: 'users_email_verifications_total', help: 'E-mail verification mails requested and tokens redeemed.', labelNames: ['stage'] }),
    accountsErased: counter({ name: 'users_accounts_erased_total', help: 'Accounts erased with deleteMyAccount.' }),
    /** limit: login | register | password_reset | email_verification. */
    rateLimited: counter({ name: 'users_rate_limited_total', help: 'Requests refused with RATE_LIMITED, by limit.', labelNames: ['limit'] }),
  };
}
export type UsersMetrics = ReturnType<typeof usersMetrics>;
