/**
 * A process that stores secrets in a file secret store, all at once: two of them on one file play
 * two brokers sharing BROKER_DATA_DIR. Usage: put-secrets.ts <file> <name prefix> <count>.
 */
import { FileSecretStore } from '../../shared/adapters/secrets/file-store';

const [path, prefix, count] = process.argv.slice(2);
if (path === undefined || prefix === undefined)
  throw new Error('usage: put-secrets.ts <file> <prefix> <count>');
const store = new FileSecretStore(path);
// Two store objects, as the handlers of one process would have.
const stores = [store, new FileSecretStore(path)];
await Promise.all(
  Array.from({ length: Number(count) }, (_, i) =>
    stores[i % 2]!.put(`${prefix}-${i}`, `value-${prefix}-${i}`),
  ),
);
process.stdout.write('done\n');
