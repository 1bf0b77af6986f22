import { subscriptionScenarios } from './scenarios';

subscriptionScenarios('in-process');
