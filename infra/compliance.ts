/**
 * cdk-nag on every synth: the AWS Solutions and Serverless packs run as CDK validation plugins, and
 * any finding that is not acknowledged fails synthesis. Acknowledgements live next to the construct
 * they concern (infra/broker/), each with its reason.
 */
import {
  type App,
  type IPolicyValidationContext,
  type IPolicyValidationPlugin,
  type PolicyValidationPluginReport,
  Validations,
} from 'aws-cdk-lib';
import { AwsSolutionsChecks, type NagPack, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** The packs every synth runs. */
export function compliancePacks(): NagPack[] {
  return [
    new AwsSolutionsChecks(undefined, { verbose: true }),
    new ServerlessChecks(undefined, { verbose: true }),
  ];
}

/** A pack that remembers its last report, so the app can say that it ran and what it found. */
class RecordingPlugin implements IPolicyValidationPlugin {
  readonly name: string;
  readonly version?: string;
  readonly ruleIds?: string[];
  report: PolicyValidationPluginReport | undefined;

  constructor(private readonly pack: NagPack) {
    this.name = pack.name;
    if (pack.version !== undefined) this.version = pack.version;
    if (pack.ruleIds !== undefined) this.ruleIds = pack.ruleIds;
  }

  validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    this.report = this.pack.validate(context);
    return this.report;
  }
}

export interface ComplianceGate {
  /** One line per pack after synthesis, e.g. `AwsSolutions: 0 unacknowledged findings`. */
  summary(): string[];
}

/** Registers the packs on `app`: `app.synth()` (and `cdk synth`) then fails on unacknowledged findings. */
export function enableComplianceChecks(app: App): ComplianceGate {
  const plugins = compliancePacks().map((pack) => new RecordingPlugin(pack));
  Validations.of(app).addPlugins(...plugins);
  return {
    summary: () => [
      ...plugins.map((plugin) =>
        plugin.report === undefined
          ? `${plugin.name}: did not run`
          : `${plugin.name}: ${plugin.report.violations.length} unacknowledged findings`,
      ),
      `${acknowledgements(app).length} acknowledged findings, each with a reason`,
    ],
  };
}

/** Every acknowledgement in the tree: the construct path, the rule id and the reason. */
export function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id,
          reason,
        })),
      ),
  );
}
