/**
 * The Lambda entry points (functions/*.ts), from their TypeScript sources, with X-Ray tracing on:
 * the flow of test/helpers/traced-flow.ts. test/infra/bundles.test.ts runs the same flow against the
 * bundles the stack ships.
 */
import { describeTracedFlow, type Invoke } from '../helpers/traced-flow';

describeTracedFlow('X-Ray traces of the Lambda functions (sources)', async () => ({
  public: (await import('../../functions/public')).handler as Invoke,
  tokens: (await import('../../functions/tokens')).handler as Invoke,
  admin: (await import('../../functions/admin')).handler as Invoke,
  sweep: (await import('../../functions/sweep')).handler as Invoke,
}));
