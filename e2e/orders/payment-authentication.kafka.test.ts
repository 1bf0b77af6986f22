import { describePaymentAuthentication } from './payment-authentication.suite';

describePaymentAuthentication('kafka');
