/** The scheduled refresher's job (EventBridge on AWS, a timer in the local runtime). */
import type { SweepReport } from '../../shared/domain/sweep';
import type { Services } from '../services';

/** The sweep as a job; a failed sweep throws so the schedule's DLQ sees it. */
export function sweepJob(services: Services): () => Promise<SweepReport> {
  return () => services.sweep();
}
