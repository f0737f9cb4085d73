/*
 * seam change relay — forwards Case Change Data Capture events to the seam runtime.
 *
 * A change event trigger runs asynchronously after the Case transaction commits, as the
 * Automated Process user, and cannot make callouts itself: it hands the batch to a Queueable
 * (SeamWebhookRelay) that signs it and POSTs it to `/hooks/sf`. The JSON is the shape the
 * runtime decodes (and the sandbox sends): {"payload": {"ChangeEventHeader": {...}, fields},
 * "event": {"replayId": N}}.
 *
 * Setup: Change Data Capture enabled for Case; the Named Credential and the Custom Metadata
 * record described in SeamWebhookRelay.cls. One trigger per synced object (copy for others).
 */
trigger SeamCaseChangeRelay on CaseChangeEvent (after insert) {
    List<Map<String, Object>> events = new List<Map<String, Object>>();
    for (CaseChangeEvent event : Trigger.new) {
        EventBus.ChangeEventHeader header = event.ChangeEventHeader;
        Map<String, Object> payload = new Map<String, Object>{
            'ChangeEventHeader' => new Map<String, Object>{
                'entityName' => header.entityName,
                'recordIds' => header.recordIds,
                'changeType' => header.changeType,
                'changedFields' => header.changedFields,
                'changeOrigin' => header.changeOrigin,
                'transactionKey' => header.transactionKey,
                'sequenceNumber' => header.sequenceNumber,
                'commitTimestamp' => header.commitTimestamp
            }
        };
        // Events are hints, state is truth: the runtime re-reads the Case, so the header is
        // enough. Changed values are added for readers of the audit log.
        for (String field : header.changedFields) {
            if (!field.contains('.')) {
                payload.put(field, event.get(field));
            }
        }
        events.add(new Map<String, Object>{
            'schema' => 'CaseChangeEvent',
            'payload' => payload,
            'event' => new Map<String, Object>{ 'replayId' => event.ReplayId }
        });
    }
    if (!events.isEmpty()) {
        System.enqueueJob(new SeamWebhookRelay(JSON.serialize(events)));
    }
}
