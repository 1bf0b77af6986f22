import { describeAccountLifecycle } from './lifecycle.suite';

describeAccountLifecycle('kafka');
