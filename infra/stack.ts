/** The deployable stack: one TokenBroker plus the outputs an operator needs after `cdk deploy`. */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { HostedZone } from 'aws-cdk-lib/aws-route53';
import type { Construct } from 'constructs';
import { pascal } from './broker/naming';
import { TokenBroker, type TokenBrokerProps } from './token-broker';

export interface CustomDomainReference {
  readonly domainName: string;
  /** ACM certificate for `domainName`, in the stack's region. */
  readonly certificateArn: string;
  /** Route 53 hosted zone to create the alias record in (both id and name, or neither). */
  readonly hostedZoneId?: string;
  readonly hostedZoneName?: string;
}

export interface TokenBrokerStackProps extends StackProps, Omit<TokenBrokerProps, 'customDomain'> {
  readonly customDomain?: CustomDomainReference;
}

export class TokenBrokerStack extends Stack {
  readonly broker: TokenBroker;

  constructor(scope: Construct, id: string, props: TokenBrokerStackProps = {}) {
    super(scope, id, props);
    const { customDomain, ...brokerProps } = props;
    this.broker = new TokenBroker(this, 'Broker', {
      ...brokerProps,
      ...(customDomain ? { customDomain: this.customDomain(customDomain) } : {}),
    });

    const broker = this.broker;
    new CfnOutput(this, 'ApiUrl', {
      description: 'The broker base URL (BROKER_PUBLIC_URL): backends call it, connect links point to it',
      value: broker.publicUrl,
    });
    new CfnOutput(this, 'ExecuteApiEndpoint', {
      description: 'The execute-api endpoint (equals ApiUrl unless a custom domain is set)',
      value: broker.api.apiEndpoint,
    });
    for (const [provider, uri] of Object.entries(broker.redirectUris)) {
      new CfnOutput(this, `${pascal(provider)}RedirectUri`, {
        description: `Register exactly this redirect URI for ${provider} in the provider's developer portal`,
        value: uri,
      });
    }
    for (const [provider, secret] of Object.entries(broker.clientSecrets)) {
      new CfnOutput(this, `${pascal(provider)}ClientSecretArn`, {
        description: `Put the ${provider} OAuth client secret here (aws secretsmanager put-secret-value)`,
        value: secret.secretArn,
      });
    }
    new CfnOutput(this, 'TableName', {
      description: 'The DynamoDB table (retained on delete)',
      value: broker.table.tableName,
    });
    new CfnOutput(this, 'TableKeyArn', {
      description:
        'KMS key of the table, the sealed tokens and the personal-token secrets (retained on delete)',
      value: broker.tableKey.keyArn,
    });
    new CfnOutput(this, 'SecretPrefix', {
      description: 'Secrets Manager name prefix; personal tokens are <prefix>personal/<provider>/<account>',
      value: broker.secretPrefix,
    });
    new CfnOutput(this, 'BackendInvokePolicyArn', {
      description: 'Managed policy to attach to the IAM role of every backend that calls the backend routes',
      value: broker.backendInvokePolicy.managedPolicyArn,
    });
    new CfnOutput(this, 'TokensFunctionName', {
      description:
        'The tokens function: backends inside AWS may invoke it directly (lambda:InvokeFunction, grantInvokeTokens)',
      value: broker.functions.tokens.functionName,
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      description: 'SNS topic of the alarms',
      value: broker.alarmTopic.topicArn,
    });
    new CfnOutput(this, 'EventBusName', {
      description: 'EventBridge bus of the broker events (source token-broker): add rules to react to them',
      value: broker.eventBus.eventBusName,
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      description: 'Failed sweep runs land here',
      value: broker.deadLetterQueue.queueUrl,
    });
  }

  private customDomain(reference: CustomDomainReference): NonNullable<TokenBrokerProps['customDomain']> {
    const certificate = Certificate.fromCertificateArn(this, 'DomainCertificate', reference.certificateArn);
    if ((reference.hostedZoneId === undefined) !== (reference.hostedZoneName === undefined)) {
      throw new Error('customDomain: give both hostedZoneId and hostedZoneName, or neither');
    }
    const hostedZone =
      reference.hostedZoneId !== undefined && reference.hostedZoneName !== undefined
        ? HostedZone.fromHostedZoneAttributes(this, 'DomainZone', {
            hostedZoneId: reference.hostedZoneId,
            zoneName: reference.hostedZoneName,
          })
        : undefined;
    return { domainName: reference.domainName, certificate, ...(hostedZone ? { hostedZone } : {}) };
  }
}
