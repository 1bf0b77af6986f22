import { describeCancellationAndFulfilment } from './cancellation-fulfilment.suite';

describeCancellationAndFulfilment('in-process');
