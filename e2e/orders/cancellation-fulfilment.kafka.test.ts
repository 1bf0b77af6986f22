import { describeCancellationAndFulfilment } from './cancellation-fulfilment.suite';

describeCancellationAndFulfilment('kafka');
