import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  InvalidRequestException,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { SecretsManagerStore } from '../../../../shared/adapters/secrets/secrets-manager-store';
import { secretStoreContract } from './secret-store.contract';

const $metadata = { httpStatusCode: 400 };

/**
 * Secrets Manager as it behaves for these calls: PutSecretValue needs an existing secret,
 * CreateSecret refuses an existing name, DeleteSecret without ForceDeleteWithoutRecovery only
 * schedules the deletion (the secret then refuses reads and writes), a missing secret is
 * ResourceNotFoundException.
 */
class FakeSecretsManager {
  readonly secrets = new Map<string, { value: string; versionId: string; scheduledForDeletion: boolean }>();

  private existing(id: string | undefined) {
    const secret = id === undefined ? undefined : this.secrets.get(id);
    if (secret === undefined) {
      throw new ResourceNotFoundException({
        message: "Secrets Manager can't find the specified secret.",
        $metadata,
      });
    }
    if (secret.scheduledForDeletion) {
      throw new InvalidRequestException({
        message: "You can't perform this operation on the secret because it was marked for deletion.",
        $metadata,
      });
    }
    return secret;
  }

  get(id: string | undefined) {
    const secret = this.existing(id);
    return {
      Name: id,
      SecretString: secret.value,
      VersionId: secret.versionId,
      VersionStages: ['AWSCURRENT'],
    };
  }

  put(id: string | undefined, value: string | undefined) {
    const secret = this.existing(id);
    secret.value = value ?? '';
    secret.versionId = randomUUID();
    return { Name: id, VersionId: secret.versionId, VersionStages: ['AWSCURRENT'] };
  }

  create(name: string | undefined, value: string | undefined) {
    if (name === undefined) throw new Error('Name is required');
    if (this.secrets.has(name)) {
      throw new ResourceExistsException({ message: `The secret ${name} already exists.`, $metadata });
    }
    const versionId = randomUUID();
    this.secrets.set(name, { value: value ?? '', versionId, scheduledForDeletion: false });
    return { Name: name, VersionId: versionId };
  }

  delete(id: string | undefined, force: boolean | undefined) {
    const secret = this.existing(id);
    if (force === true) this.secrets.delete(id ?? '');
    else secret.scheduledForDeletion = true;
    return { Name: id, DeletionDate: new Date() };
  }
}

const secretsManager = mockClient(SecretsManagerClient);
let fake: FakeSecretsManager;

beforeEach(() => {
  secretsManager.reset();
  fake = new FakeSecretsManager();
  secretsManager.on(GetSecretValueCommand).callsFake((input) => fake.get(input.SecretId));
  secretsManager.on(PutSecretValueCommand).callsFake((input) => fake.put(input.SecretId, input.SecretString));
  secretsManager.on(CreateSecretCommand).callsFake((input) => fake.create(input.Name, input.SecretString));
  secretsManager
    .on(DeleteSecretCommand)
    .callsFake((input) => fake.delete(input.SecretId, input.ForceDeleteWithoutRecovery));
});

afterAll(() => {
  secretsManager.restore();
});

const newClient = () => new SecretsManagerClient({ region: 'eu-central-1' });

secretStoreContract('SecretsManagerStore', () => new SecretsManagerStore(newClient()));

describe('SecretsManagerStore', () => {
  const NAME = 'token-broker/personal/xentral/acme42';
  const KMS_KEY = 'arn:aws:kms:eu-central-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

  it('creates a new secret, encrypted with the KMS key and tagged, when PutSecretValue finds none', async () => {
    // Prepare
    const store = new SecretsManagerStore(newClient(), { kmsKeyId: KMS_KEY, tags: { app: 'token-broker' } });

    // Act
    const { version } = await store.put(NAME, 'pat_0123456789');

    // Assess
    expect(secretsManager.commandCalls(PutSecretValueCommand)).toHaveLength(1);
    const creates = secretsManager.commandCalls(CreateSecretCommand);
    expect(creates).toHaveLength(1);
    expect(creates[0]?.args[0].input).toEqual({
      Name: NAME,
      SecretString: 'pat_0123456789',
      KmsKeyId: KMS_KEY,
      Tags: [{ Key: 'app', Value: 'token-broker' }],
    });
    expect(version).toBe(fake.secrets.get(NAME)?.versionId);
  });

  it('replaces an existing secret with PutSecretValue alone', async () => {
    // Prepare
    fake.create(NAME, 'old-value-0001');
    const store = new SecretsManagerStore(newClient());

    // Act
    const { version } = await store.put(NAME, 'new-value-0002');

    // Assess
    expect(secretsManager.commandCalls(CreateSecretCommand)).toHaveLength(0);
    expect(secretsManager.commandCalls(PutSecretValueCommand)[0]?.args[0].input).toEqual({
      SecretId: NAME,
      SecretString: 'new-value-0002',
    });
    expect(fake.secrets.get(NAME)).toEqual({
      value: 'new-value-0002',
      versionId: version,
      scheduledForDeletion: false,
    });
  });

  it('deletes at once, without a recovery window', async () => {
    // Prepare
    fake.create(NAME, 'pat_0123456789');
    const store = new SecretsManagerStore(newClient());

    // Act
    await store.delete(NAME);

    // Assess
    expect(secretsManager.commandCalls(DeleteSecretCommand)[0]?.args[0].input).toEqual({
      SecretId: NAME,
      ForceDeleteWithoutRecovery: true,
    });
    expect(fake.secrets.has(NAME)).toBe(false);
  });

  it('answers undefined for a missing secret reported by error name only', async () => {
    // Prepare
    const notFound = Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' });
    secretsManager.on(GetSecretValueCommand).rejects(notFound);
    const store = new SecretsManagerStore(newClient());

    // Act
    const secret = await store.get(NAME);

    // Assess
    expect(secret).toBeUndefined();
  });

  it('answers undefined for a secret without a string value', async () => {
    // Prepare
    secretsManager
      .on(GetSecretValueCommand)
      .resolves({ SecretBinary: new Uint8Array([1, 2]), VersionId: 'v1' });
    const store = new SecretsManagerStore(newClient());

    // Act
    const secret = await store.get(NAME);

    // Assess
    expect(secret).toBeUndefined();
  });

  it('asks for the secret by its name', async () => {
    // Prepare
    fake.create(NAME, 'pat_0123456789');
    const store = new SecretsManagerStore(newClient());

    // Act
    await store.get(NAME);

    // Assess
    expect(secretsManager.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: NAME });
  });

  describe('lets other failures through', () => {
    const denied = () => Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' });

    it('on get', async () => {
      // Prepare
      secretsManager.on(GetSecretValueCommand).rejects(denied());

      // Act and assess
      await expect(new SecretsManagerStore(newClient()).get(NAME)).rejects.toThrow('not authorized');
    });

    it('on put, without trying to create the secret', async () => {
      // Prepare
      secretsManager.on(PutSecretValueCommand).rejects(denied());

      // Act
      const putting = new SecretsManagerStore(newClient()).put(NAME, 'pat_0123456789');

      // Assess
      await expect(putting).rejects.toThrow('not authorized');
      expect(secretsManager.commandCalls(CreateSecretCommand)).toHaveLength(0);
    });

    it('on delete', async () => {
      // Prepare
      secretsManager.on(DeleteSecretCommand).rejects(denied());

      // Act and assess
      await expect(new SecretsManagerStore(newClient()).delete(NAME)).rejects.toThrow('not authorized');
    });
  });
});
