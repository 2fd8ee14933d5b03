// Placeholder until the handler wiring lands (same session): exports the Lambda entry point.
export const handler = async (): Promise<never> => {
  throw new Error('functions/sweep.ts is not wired yet');
};
