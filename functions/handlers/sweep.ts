/** The scheduled refresher's handler (EventBridge on AWS, a timer in the local runtime). */
import middy from '@middy/core';
import type { SweepReport } from '../../shared/domain/sweep';
import type { Services } from '../services';

/** Builds the sweep Lambda handler; a failed sweep throws so the schedule's DLQ sees it. */
export function createSweepHandler(services: Services) {
  return middy<unknown, SweepReport>().handler(() => services.sweep());
}
