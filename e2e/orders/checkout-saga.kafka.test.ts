import { describeCheckoutSaga } from './checkout-saga.suite';

describeCheckoutSaga('kafka');
