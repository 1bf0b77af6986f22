import { describePaymentAuthentication } from './payment-authentication.suite';

describePaymentAuthentication('in-process');
