import { z } from 'zod';

/** Thrown when the environment holds a missing or invalid setting; the message is one line naming it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Parses `env` with a zod object schema whose keys are environment variable names.
 * On failure it throws a ConfigError whose message names the first bad variable and why,
 * e.g. `KAFKA_BROKERS: expected host:port[,host:port…], got "localhost"`.
 */
export function loadConfig<S extends z.ZodRawShape>(shape: S, env: NodeJS.ProcessEnv = process.env): z.infer<z.ZodObject<S>> {
  const result = z.object(shape).safeParse(env);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const name = String(issue?.path[0] ?? '?');
  const raw = env[name];
  const got = raw === undefined ? 'it is not set' : `got ${JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}…` : raw)}`;
  throw new ConfigError(`Invalid configuration: ${name}: ${issue?.message ?? 'invalid'} (${got})`);
}

/** Reusable field parsers for environment variables. */
export const env = {
  /** A TCP port number. */
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  /** A positive integer with a default. */
  int: (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback),
  /** A postgres:// URL. */
  postgresUrl: () => z.string().regex(/^postgres(ql)?:\/\/.+/, 'expected a postgres:// URL'),
  /** Comma-separated host:port list, e.g. "127.0.0.1:9092,kafka-2:9092". */
  brokers: () =>
    z
      .string()
      .regex(/^[\w.-]+:\d+(,[\w.-]+:\d+)*$/, 'expected host:port[,host:port…]')
      .transform((s) => s.split(',')),
  /** "true"/"false"/"1"/"0" (anything else is an error). */
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0'], { message: 'expected true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1'),
  /** A secret of at least `minLength` characters. */
  secret: (minLength = 32) => z.string().min(minLength, `must be at least ${minLength} characters`),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  nodeEnv: () => z.enum(['development', 'production', 'test']).default('development'),
  url: () => z.string().url('expected a URL'),
  /** Any non-empty string with a default. */
  string: (fallback: string) => z.string().min(1).default(fallback),
};

export type NodeEnv = 'development' | 'production' | 'test';

/** A service's settings: environment variable names mapped to their zod parsers (defaults inside). */
export type SettingsShape = z.ZodRawShape;
export type SettingsOf<S extends SettingsShape> = z.infer<z.ZodObject<S>>;
/** Typed overrides of settings (tests, the embedded launcher): numbers and booleans are taken as such. */
export type SettingsOverrides<S extends SettingsShape> = { readonly [K in keyof S]?: string | number | boolean };

/** A service's settings declaration: the shape, plus rules across settings or on the environment kind. */
export interface SettingsSpec<S extends SettingsShape> {
  readonly shape: S;
  /** Throws a ConfigError naming the bad setting (e.g. a key required in production). */
  readonly check?: (settings: SettingsOf<S>, nodeEnv: NodeEnv) => void;
}

/** Declares a service's settings. */
export function defineSettings<S extends SettingsShape>(shape: S, check?: (settings: SettingsOf<S>, nodeEnv: NodeEnv) => void): SettingsSpec<S> {
  return check ? { shape, check } : { shape };
}

/** For a service with no settings of its own. */
export const NO_SETTINGS: SettingsSpec<{}> = { shape: {} };

/**
 * Parses a service's settings once: each from `overrides` when given there, else from the
 * environment variable of the same name, else its default. Throws a ConfigError naming the first
 * bad one.
 */
export function parseSettings<S extends SettingsShape>(spec: SettingsSpec<S>, overrides: SettingsOverrides<S> = {}, nodeEnv: NodeEnv = 'development', environment: NodeJS.ProcessEnv = process.env): SettingsOf<S> {
  const source: Record<string, string | undefined> = {};
  for (const key of Object.keys(spec.shape)) {
    const value: unknown = Object.hasOwn(overrides, key) ? overrides[key as keyof S] : environment[key];
    if (value === undefined || value === null || value === '') continue;
    if (typeof value === 'object') throw new ConfigError(`Invalid configuration: ${key}: expected a scalar`);
    source[key] = String(value);
  }
  const settings = loadConfig(spec.shape, source);
  spec.check?.(settings, nodeEnv);
  return settings;
}

/**
 * Reads a process's settings with `read`; a ConfigError stops the process with its one line
 * (prefixed with `name`) on stderr and exit code 1. Every entry point starts with it.
 */
export function configOrExit<T>(name: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${name}: ${error.message}\n`);
    process.exit(1);
  }
}
