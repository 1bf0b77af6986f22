import { describeSagaTimeout } from './saga-timeout.suite';

describeSagaTimeout('in-process');
