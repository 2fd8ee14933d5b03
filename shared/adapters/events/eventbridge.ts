/** Domain events to an EventBridge bus: source `token-broker`, detail-type the event type. */

import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE } from '../../constants';
import type { EventSink } from '../../domain/ports';

export { EVENT_SOURCE } from '../../constants';

/** An EventSink over EventBridge (client injected). */
export function eventBridgeSink(client: EventBridgeClient, busName: string): EventSink {
  return {
    publish: async (event) => {
      const result = await client.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: busName,
              Source: EVENT_SOURCE,
              DetailType: event.type,
              Time: new Date(event.time),
              Detail: JSON.stringify(event),
            },
          ],
        }),
      );
      // PutEvents reports per-entry failures in a 200 answer.
      if ((result.FailedEntryCount ?? 0) > 0) {
        throw new Error(`EventBridge refused the event: ${result.Entries?.[0]?.ErrorCode ?? 'unknown'}`);
      }
    },
  };
}
