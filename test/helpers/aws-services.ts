/**
 * A loopback stand-in for the three AWS JSON APIs the Lambda functions call besides DynamoDB (KMS,
 * Secrets Manager, EventBridge), for tests that run the real Lambda entry points (functions/*.ts)
 * with the SDK's own HTTP stack: the SDK clients reach it through `AWS_ENDPOINT_URL_<SERVICE>`.
 * Only the operations the broker uses, with the answers' documented shapes; it checks no signature.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeAwsServices {
  readonly endpoint: string;
  /** Every plaintext data key KMS handed out (secrets as much as the tokens they seal). */
  readonly dataKeys: readonly Buffer[];
  /** Operations served, as `Service.Operation`. */
  readonly calls: readonly string[];
  close(): Promise<void>;
}

type Body = Record<string, unknown>;
class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/** Starts the stand-in on 127.0.0.1 with `secrets` (SecretId → SecretString) already stored. */
export async function startFakeAwsServices(secrets: Record<string, string> = {}): Promise<FakeAwsServices> {
  const dataKeys: Buffer[] = [];
  const calls: string[] = [];
  const wrapped = new Map<string, Buffer>();
  const stored = new Map<string, { value: string; version: string }>(
    Object.entries(secrets).map(([id, value]) => [id, { value, version: randomUUID() }]),
  );
  const secret = (body: Body) => {
    const id = String(body.SecretId ?? body.Name);
    return { id, entry: stored.get(id) };
  };
  const notFound = (id: string) =>
    new AwsError('ResourceNotFoundException', `Secrets Manager can't find the specified secret ${id}.`);
  const arn = (id: string) =>
    id.startsWith('arn:') ? id : `arn:aws:secretsmanager:us-east-1:123456789012:secret:${id}-AbCdEf`;

  const operations: Record<string, (body: Body) => Body> = {
    'TrentService.GenerateDataKey': (body) => {
      const plaintext = randomBytes(32);
      const blob = randomBytes(64).toString('base64');
      dataKeys.push(plaintext);
      wrapped.set(blob, plaintext);
      return { KeyId: body.KeyId, Plaintext: plaintext.toString('base64'), CiphertextBlob: blob };
    },
    'TrentService.Decrypt': (body) => {
      const plaintext = wrapped.get(String(body.CiphertextBlob));
      if (plaintext === undefined) throw new AwsError('InvalidCiphertextException', 'unknown ciphertext');
      return {
        KeyId: 'fake-key',
        Plaintext: plaintext.toString('base64'),
        EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      };
    },
    'secretsmanager.GetSecretValue': (body) => {
      const { id, entry } = secret(body);
      if (entry === undefined) throw notFound(id);
      return {
        ARN: arn(id),
        Name: id,
        SecretString: entry.value,
        VersionId: entry.version,
        VersionStages: ['AWSCURRENT'],
      };
    },
    'secretsmanager.PutSecretValue': (body) => {
      const { id, entry } = secret(body);
      if (entry === undefined) throw notFound(id);
      entry.value = String(body.SecretString);
      entry.version = randomUUID();
      return { ARN: arn(id), Name: id, VersionId: entry.version, VersionStages: ['AWSCURRENT'] };
    },
    'secretsmanager.CreateSecret': (body) => {
      const { id, entry } = secret(body);
      if (entry !== undefined)
        throw new AwsError('ResourceExistsException', `the secret ${id} already exists`);
      const version = randomUUID();
      stored.set(id, { value: String(body.SecretString), version });
      return { ARN: arn(id), Name: id, VersionId: version };
    },
    'secretsmanager.DeleteSecret': (body) => {
      const { id, entry } = secret(body);
      if (entry === undefined) throw notFound(id);
      stored.delete(id);
      return { ARN: arn(id), Name: id, DeletionDate: Date.now() / 1000 };
    },
    'AWSEvents.PutEvents': (body) => {
      const entries = Array.isArray(body.Entries) ? body.Entries : [];
      return { FailedEntryCount: 0, Entries: entries.map(() => ({ EventId: randomUUID() })) };
    },
  };

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    const send = (status: number, body: Body, headers: Record<string, string> = {}) => {
      res.writeHead(status, {
        'content-type': 'application/x-amz-json-1.1',
        'x-amzn-requestid': randomUUID(),
        ...headers,
      });
      res.end(JSON.stringify(body));
    };
    const operation = operations[target];
    if (operation === undefined) return send(400, { __type: 'UnknownOperationException', message: target });
    calls.push(target.replace(/^TrentService\./, 'KMS.').replace(/^AWSEvents\./, 'EventBridge.'));
    try {
      const text = Buffer.concat(chunks).toString('utf8');
      send(200, operation(text === '' ? {} : (JSON.parse(text) as Body)));
    } catch (error) {
      if (!(error instanceof AwsError)) throw error;
      send(400, { __type: error.type, message: error.message }, { 'x-amzn-errortype': error.type });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    dataKeys,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
