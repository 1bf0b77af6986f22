import { readFileSync } from 'node:fs';
import type { DocumentNode } from 'graphql';
import { parse } from 'graphql';

/** Reads and parses a `.graphql` file (once, at start-up). */
export function loadSdl(file: string): DocumentNode {
  return parse(readFileSync(file, 'utf8'));
}
