import type { InProcessBus } from '@shop/platform';
import { resumeScenarios } from './resume-scenarios';

// Retention on the in-process log: pruning with a retention of zero removes every message.
resumeScenarios('in-process', (shop) => (shop.bus as InProcessBus).prune(0));
