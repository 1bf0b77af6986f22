import { describeSagaTimeout } from './saga-timeout.suite';

describeSagaTimeout('kafka');
