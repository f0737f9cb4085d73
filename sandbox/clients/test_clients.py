"""The platforms' own client libraries against `seam sandbox --tls`.

simple-salesforce (Salesforce), pysnow and plain requests (ServiceNow), slack_sdk (Slack).
Run by run.sh, which starts the sandbox; prints 'N passed, M failed'.
"""
import os
import sys
import traceback

import requests

CERT = os.environ["SANDBOX_CERT"]
SF = os.environ["SANDBOX_SF"]
SN = os.environ["SANDBOX_SN"]
SL = os.environ["SANDBOX_SLACK"]

TESTS = []


def test(f):
    TESTS.append(f)
    return f


def sf_token():
    r = requests.post(f"{SF}/services/oauth2/token", verify=CERT, data={
        "grant_type": "client_credentials",
        "client_id": "seam-sandbox-client-id",
        "client_secret": "seam-sandbox-client-secret",
    })
    r.raise_for_status()
    return r.json()


@test
def simple_salesforce_crud_upsert_query_describe():
    from simple_salesforce import Salesforce
    from simple_salesforce.exceptions import SalesforceResourceNotFound, SalesforceMalformedRequest
    tok = sf_token()
    session = requests.Session()
    session.verify = CERT
    sf = Salesforce(instance_url=tok["instance_url"], session_id=tok["access_token"], session=session, version="62.0")
    created = sf.Case.create({"Subject": "Printer on fire", "Priority": "High"})
    assert created["success"], created
    rec = sf.Case.get(created["id"])
    assert rec["Subject"] == "Printer on fire" and rec["attributes"]["type"] == "Case"
    assert sf.Case.update(created["id"], {"Subject": "Printer still on fire"}) == 204
    assert sf.Case.upsert("External_Id__c/INC0010001", {"Subject": "from ServiceNow"}) == 201
    assert sf.Case.upsert("External_Id__c/INC0010001", {"Subject": "again"}) in (200, 204)
    assert sf.Case.get_by_custom_id("External_Id__c", "INC0010001")["Subject"] == "again"
    res = sf.query("SELECT Id, Subject FROM Case WHERE Subject LIKE '%fire%' ORDER BY Subject")
    assert res["totalSize"] == 1 and res["records"][0]["Subject"] == "Printer still on fire", res
    allres = sf.query_all("SELECT Id FROM Case")
    assert allres["totalSize"] == 2
    d = sf.Case.describe()
    assert d["keyPrefix"] == "500" and any(f["name"] == "External_Id__c" for f in d["fields"])
    assert sf.Case.delete(created["id"]) == 204
    try:
        sf.Case.get(created["id"])
        raise AssertionError("expected not found")
    except SalesforceResourceNotFound:
        pass
    try:
        sf.Case.create({"NoSuchField__c": 1})
        raise AssertionError("expected INVALID_FIELD")
    except SalesforceMalformedRequest as e:
        assert e.content[0]["errorCode"] == "INVALID_FIELD"


@test
def pysnow_table_api():
    import pysnow
    s = requests.Session()
    s.verify = CERT
    s.auth = ("admin", "sandbox-password")
    c = pysnow.Client(host=SN.replace("https://", ""), session=s, use_ssl=True)
    inc = c.resource(api_path="/table/incident")
    r = inc.create(payload={"short_description": "Printer on fire", "impact": "1", "urgency": "1"})
    rec = r.one()
    assert rec["number"].startswith("INC") and rec["priority"] == "1", rec
    got = inc.get(query={"number": rec["number"]}).one()
    assert got["sys_id"] == rec["sys_id"]
    upd = inc.update(query={"number": rec["number"]}, payload={"state": "2"})
    assert upd["state"] == "2" and upd["sys_mod_count"] == "1", upd
    qb = pysnow.QueryBuilder().field("short_description").contains("fire")
    assert len(list(inc.get(query=qb).all())) == 1
    inc.delete(query={"number": rec["number"]})
    assert list(inc.get(query={"number": rec["number"]}).all()) == []


@test
def requests_table_api_errors():
    r = requests.get(f"{SN}/api/now/table/incident", verify=CERT)
    assert r.status_code == 401 and r.json()["error"]["message"] == "User Not Authenticated"
    r = requests.get(f"{SN}/api/now/table/incident/00000000000000000000000000000000", verify=CERT, auth=("admin", "sandbox-password"))
    assert r.status_code == 404 and r.json()["status"] == "failure"


@test
def slack_sdk_web_api():
    import ssl
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError
    ctx = ssl.create_default_context(cafile=CERT)
    c = WebClient(token="xoxb-seam-sandbox-token", base_url=f"{SL}/api/", ssl=ctx)
    assert c.auth_test()["ok"]
    ch = c.conversations_create(name="inc0010001")["channel"]
    c.conversations_invite(channel=ch["id"], users=["U0123ABCD"])
    msg = c.chat_postMessage(channel=ch["id"], text="P1 opened")
    assert msg["ts"]
    hist = c.conversations_history(channel=ch["id"])
    assert hist["messages"][0]["text"] == "P1 opened"
    assert any(x["id"] == ch["id"] for x in c.conversations_list()["channels"])
    try:
        c.conversations_create(name="inc0010001")
        raise AssertionError("expected name_taken")
    except SlackApiError as e:
        assert e.response["error"] == "name_taken"
    bad = WebClient(token="xoxb-wrong", base_url=f"{SL}/api/", ssl=ctx)
    try:
        bad.auth_test()
        raise AssertionError("expected invalid_auth")
    except SlackApiError as e:
        assert e.response["error"] == "invalid_auth"


def main():
    passed = failed = 0
    for t in TESTS:
        try:
            t()
            passed += 1
            print(f"ok   {t.__name__}")
        except Exception:
            failed += 1
            print(f"FAIL {t.__name__}")
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
