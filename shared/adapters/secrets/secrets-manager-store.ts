/** The secret store on AWS Secrets Manager (client injected; built once at module scope). */
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { SecretStore } from '../../domain/ports';

const notFound = (error: unknown): boolean =>
  error instanceof ResourceNotFoundException ||
  (error instanceof Error && error.name === 'ResourceNotFoundException');

/** A SecretStore over Secrets Manager; `kmsKeyId` encrypts the secrets it creates. */
export class SecretsManagerStore implements SecretStore {
  constructor(
    private readonly client: SecretsManagerClient,
    private readonly options: { kmsKeyId?: string | undefined; tags?: Record<string, string> } = {},
  ) {}

  async get(name: string) {
    try {
      const result = await this.client.send(new GetSecretValueCommand({ SecretId: name }));
      if (result.SecretString === undefined || result.VersionId === undefined) return undefined;
      return { value: result.SecretString, version: result.VersionId };
    } catch (error) {
      if (notFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * PutSecretValue moves AWSCURRENT to the new version atomically; the first write creates the
   * secret. When two first writes race, the loser's CreateSecret finds the secret and it puts again.
   */
  async put(name: string, value: string) {
    const putValue = async () => {
      const result = await this.client.send(
        new PutSecretValueCommand({ SecretId: name, SecretString: value }),
      );
      return { version: result.VersionId ?? '' };
    };
    try {
      return await putValue();
    } catch (error) {
      if (!notFound(error)) throw error;
    }
    try {
      const created = await this.client.send(
        new CreateSecretCommand({
          Name: name,
          SecretString: value,
          KmsKeyId: this.options.kmsKeyId,
          Tags: Object.entries(this.options.tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
      return { version: created.VersionId ?? '' };
    } catch (error) {
      if (!(error instanceof Error && error.name === 'ResourceExistsException')) throw error;
      return putValue();
    }
  }

  /** Deleted without a recovery window: "forget the connection and its tokens" means now. */
  async delete(name: string) {
    try {
      await this.client.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
    } catch (error) {
      if (!notFound(error)) throw error;
    }
  }
}
