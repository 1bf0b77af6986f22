import { describeCheckoutSaga } from './checkout-saga.suite';

describeCheckoutSaga('in-process');
