import { describeAccountLifecycle } from './lifecycle.suite';

describeAccountLifecycle('in-process');
