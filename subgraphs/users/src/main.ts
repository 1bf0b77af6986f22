/** Runs the users subgraph alone (Kubernetes): `tsx src/main.ts` or `tsx src/main.ts migrate`. */
import { env, loadConfig, runStandalone } from '@shop/platform';
import { checkUsersSettings, parseUsersSettings } from './config';
import { usersService } from './service';

if (!process.argv.includes('migrate')) {
  try {
    // Validated here so that a bad users setting stops the process with one line naming it; the
    // service reads the same variables from the environment when it starts.
    checkUsersSettings(parseUsersSettings(), loadConfig({ NODE_ENV: env.nodeEnv() }).NODE_ENV);
  } catch (error) {
    process.stderr.write(`users: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
void runStandalone(usersService);
