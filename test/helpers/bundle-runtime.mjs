/**
 * One Lambda function in a process of its own, as on AWS: test/infra/bundles.test.ts forks this
 * script per bundle. It loads the bundle the way the Node.js runtime interface client does (a
 * dynamic import of the handler file, then `handler` from the module or else from its default export:
 * src/function/module-loader.ts and handler-resolver.ts there) and runs each invocation the parent
 * sends over IPC with that invocation's X-Ray trace header in `_X_AMZN_TRACE_ID`, as the runtime sets it.
 */
import { pathToFileURL } from 'node:url';

const [file] = process.argv.slice(2);
const loaded = await import(pathToFileURL(file).href);
const handler = loaded.handler ?? loaded.default?.handler;
if (typeof handler !== 'function') throw new Error(`${file} exports no handler`);

process.on('message', async ({ id, event, traceId, requestId, functionName }) => {
  process.env._X_AMZN_TRACE_ID = traceId;
  const deadline = Date.now() + 60_000;
  const context = {
    awsRequestId: requestId,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '256',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'bundle-runtime',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done() {},
    fail() {},
    succeed() {},
  };
  try {
    process.send({ id, result: await handler(event, context) });
  } catch (error) {
    process.send({ id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
});
process.send({ ready: true });
