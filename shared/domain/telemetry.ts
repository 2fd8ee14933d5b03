/**
 * What the broker tells the outside world besides its answers: domain events a SaaS backend can
 * react to (EventBridge on AWS, the log locally) and counters for alarms. Neither ever carries a
 * token, and a failing sink never fails the operation that caused the event.
 */
import type { ConnectionKey } from './model';
import type { BrokerEventType, DomainEvent, EventSink, Logger, MetricName, MetricSink } from './ports';

/** Events and counters behind one guard. */
export class Telemetry {
  constructor(
    private readonly sinks: { events: EventSink; metrics: MetricSink; logger: Logger; now: () => number },
  ) {}

  /** Publishes an event; awaited so Lambda does not freeze before it is sent, but never throws. */
  async event(type: BrokerEventType, key: ConnectionKey, detail: DomainEvent['detail'] = {}): Promise<void> {
    const event: DomainEvent = {
      type,
      provider: key.provider,
      account: key.account,
      time: new Date(this.sinks.now()).toISOString(),
      detail,
    };
    try {
      await this.sinks.events.publish(event);
    } catch (error) {
      this.sinks.logger.error('could not publish an event', {
        type,
        provider: key.provider,
        account: key.account,
        error: error instanceof Error ? error.name : 'unknown',
      });
    }
  }

  count(name: MetricName, value = 1): void {
    try {
      this.sinks.metrics.count(name, value);
    } catch {
      // Metrics are best effort by design.
    }
  }
}

/** Telemetry that goes nowhere (unit tests of single services). */
export const silentTelemetry = (logger: Logger): Telemetry =>
  new Telemetry({
    events: { publish: async () => undefined },
    metrics: { count: () => undefined },
    logger,
    now: Date.now,
  });

/** The local runtime's event sink: one structured log line per event. */
export const logEventSink = (logger: Logger): EventSink => ({
  publish: async (event) => logger.info('event', { event }),
});
