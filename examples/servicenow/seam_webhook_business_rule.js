/*
 * seam change webhook — a ServiceNow business rule that sends the same payload as the seam
 * sandbox's ServiceNow emulator (see sandbox/README.md, "ServiceNow change events").
 *
 * Install: System Definition > Business Rules > New
 *   Table: incident (one rule per synced table)   Advanced: true
 *   When: async (or after)   Insert: true   Update: true   Delete: true
 *   Condition (recommended, so the runtime's own writes do not echo back):
 *     gs.getUserName() != gs.getProperty('x_seam.integration_user', 'seam.integration')
 * System properties (sys_properties):
 *   x_seam.webhook_url     https://seam.example.com/hooks/snow
 *   x_seam.webhook_secret  the runtime's --snow-webhook-secret (type: password2)
 *
 * Signature (what the runtime verifies):
 *   X-Seam-Timestamp: <unix seconds>
 *   X-Seam-Signature: v1=<hex(HMAC-SHA256(secret, timestamp + "." + body))>
 * GlideCertificateEncryption.generateMac(base64Key, "HmacSHA256", data) returns the MAC in
 * base64 (ServiceNow community, "How to use GlideCertificateEncryption.generateMac"); it is
 * turned into hex below. Async rules may run out of order and cannot see `previous`: the
 * runtime orders events by sys_mod_count, and on async rules changed_fields is best effort.
 */
(function executeRule(current, previous /* null when async */) {
    var url = gs.getProperty('x_seam.webhook_url');
    var secret = gs.getProperty('x_seam.webhook_secret');
    if (!url || !secret) {
        gs.warn('seam webhook: x_seam.webhook_url / x_seam.webhook_secret not set');
        return;
    }

    var operation = current.operation(); // "insert" | "update" | "delete"
    var record = {};
    var changed = [];
    var fields = current.getFields();
    for (var i = 0; i < fields.size(); i++) {
        var el = fields.get(i);
        var name = el.getName();
        var ed = el.getED();
        if (ed.isJournal()) {
            // Journal fields read back as "" from the Table API; send the entry just added.
            record[name] = current[name].getJournalEntry(1) || '';
        } else {
            record[name] = el.toString();
        }
        if (operation == 'insert' && record[name] !== '') {
            changed.push(name);
        } else if (operation == 'update' && previous && el.changes()) {
            changed.push(name);
        }
    }

    var payload = {
        table: current.getTableName(),
        sys_id: current.getUniqueValue(),
        operation: operation,
        sys_mod_count: parseInt(current.getValue('sys_mod_count') || '0', 10),
        sys_updated_on: current.getValue('sys_updated_on'),
        sys_updated_by: current.getValue('sys_updated_by'),
        changed_fields: operation == 'delete' ? [] : changed,
        record: record
    };
    var body = JSON.stringify(payload);
    var timestamp = String(Math.floor(new GlideDateTime().getNumericValue() / 1000));

    var mac = new GlideCertificateEncryption();
    var macB64 = mac.generateMac(GlideStringUtil.base64Encode(secret), 'HmacSHA256', timestamp + '.' + body);
    var signature = 'v1=' + base64ToHex(macB64);

    var rm = new sn_ws.RESTMessageV2();
    rm.setEndpoint(url);
    rm.setHttpMethod('POST');
    rm.setRequestHeader('Content-Type', 'application/json');
    rm.setRequestHeader('X-Seam-Timestamp', timestamp);
    rm.setRequestHeader('X-Seam-Signature', signature);
    rm.setRequestBody(body);
    rm.setHttpTimeout(10000);
    try {
        var res = rm.execute();
        var status = res.getStatusCode();
        if (status < 200 || status >= 300) {
            gs.error('seam webhook: ' + url + ' answered ' + status + ' for ' + payload.table + '/' + payload.sys_id);
        }
    } catch (e) {
        gs.error('seam webhook: ' + e.message + ' for ' + payload.table + '/' + payload.sys_id);
    }

    function base64ToHex(b64) {
        var alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
        var hex = '';
        var bits = 0;
        var value = 0;
        for (var j = 0; j < b64.length; j++) {
            var c = b64.charAt(j);
            if (c == '=') {
                break;
            }
            value = (value << 6) | alphabet.indexOf(c);
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                var byte = (value >> bits) & 0xff;
                hex += (byte < 16 ? '0' : '') + byte.toString(16);
            }
        }
        return hex;
    }
})(current, previous);
