import { defineEvent } from '@shop/platform';
import { z } from 'zod';
import { id } from './common';

/** Every user event, keyed by user id. No secrets and no password hashes, ever. */
export const USERS_USER_TOPIC = 'users.user';

export const UserRegistered = defineEvent('users.user-registered.v1', USERS_USER_TOPIC, z.object({ userId: id, email: z.string(), username: z.string(), createdAt: z.string() }));
export const UserUpdated = defineEvent('users.user-updated.v1', USERS_USER_TOPIC, z.object({ userId: id, roles: z.array(z.enum(['CUSTOMER', 'ADMIN'])) }));
