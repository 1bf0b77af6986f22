import { subscriptionScenarios } from './scenarios';

subscriptionScenarios('kafka');
