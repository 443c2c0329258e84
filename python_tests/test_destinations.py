"""The vendor destination clients over real HTTP against local contract servers
(python_tests/servers/), and the normalisation vectors they hash with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestration.exports import normalize
from orchestration.exports.destinations._http import AuthenticationFailed
from orchestration.exports.destinations.base import BatchRejected, ConfigurationError, Operation, RateLimited
from orchestration.exports.destinations.google_ads import GoogleAdsCustomerMatch
from orchestration.exports.destinations.hubspot import HubSpotUpsert
from orchestration.exports.destinations.klaviyo import KlaviyoListMembers, KlaviyoProfiles
from orchestration.exports.destinations.meta import MetaCustomAudience
from orchestration.exports.destinations.salesforce import SalesforceUpsert
from orchestration.exports.destinations.vendors import VENDOR_CLIENTS
from python_tests.servers.crm import HubSpotAPI, SalesforceAPI
from python_tests.servers.google_ads import GoogleAdsAPI
from python_tests.servers.klaviyo import KlaviyoAPI
from python_tests.servers.meta import MetaAPI

VECTORS = json.loads((Path(__file__).parent / "data" / "normalization_vectors.json").read_text())["vectors"]


def op(key: str, payload: dict, kind: str = "upsert") -> Operation:
    return Operation(kind, key, payload, f"idem-{key}")


def sha(text: str) -> str:
    return normalize.sha256_hex(text)


# -- normalisation ---------------------------------------------------------------------

@pytest.mark.parametrize("vendor,vector", [(v, x) for v, xs in VECTORS.items() for x in xs],
                         ids=lambda x: x if isinstance(x, str) else f"{x['field']}:{x['input']!r}")
def test_normalization_vectors(vendor, vector):
    options = vector.get("options", {})
    if "error" in vector:
        with pytest.raises(normalize.InvalidIdentifier) as raised:
            normalize.for_vendor(vendor, vector["field"], vector["input"], **options)
        assert raised.value.reason == vector["error"]
        assert raised.value.field in (vector["field"], "name")
        return
    expected = vector["sha256"] or vector["normalized"]
    assert normalize.for_vendor(vendor, vector["field"], vector["input"], **options) == expected
    if vector["sha256"]:
        assert normalize.sha256_hex(vector["normalized"]) == vector["sha256"]
        assert normalize.is_sha256_hex(vector["sha256"])


def test_every_vendor_has_vectors_and_hashes_are_passed_through():
    assert set(VECTORS) == set(normalize.VENDOR_RULES)
    digest = sha("john.doe@example.com")
    assert normalize.for_vendor("meta", "email", digest) == digest
    assert normalize.normalize_email("John.Doe+x@GoogleMail.com", fold_gmail_dots=True, strip_plus_tag=True) == \
        "johndoe@googlemail.com"


def test_every_client_declares_the_interface():
    for kind, cls in VENDOR_CLIENTS.items():
        assert cls.kind == kind and cls.max_batch_rows > 0 and cls.supported_operations
        for method in ("from_config", "send", "close"):
            assert callable(getattr(cls, method))


# -- Klaviyo ---------------------------------------------------------------------------

def klaviyo(server, **extra) -> KlaviyoProfiles:
    spec = {"api_key": "pk_test", "base_url": server.url, "poll_interval_seconds": 0.01, "list_id": "LIST1", **extra}
    return KlaviyoProfiles.from_config(spec, "vip_to_klaviyo")


def test_klaviyo_imports_profiles_into_the_list_and_reports_bad_rows():
    with KlaviyoAPI(polls_until_complete=2, errors_page_size=1) as server:
        client = klaviyo(server)
        results = client.send([
            op("p1", {"email": " Ada@Example.com ", "phone": "(415) 555-2671", "first_name": "Ada",
                      "city": "London", "ltv": 120.5}),
            op("p2", {"email": "grace@blocked.example"}),
            op("p3", {"email": "not an email"}),
            op("p4", {"external_id": "c-4", "subscriptions": {"email": {"marketing": {"consent": "SUBSCRIBED"}}}}),
            op("p5", {"external_id": "c-5"}),
            op("p6", {"email": "eve@blocked.example"}),
        ])
        client.close()
    by_key = {r.key: r for r in results}
    assert [r.key for r in results] == ["p1", "p2", "p3", "p4", "p5", "p6"]
    assert by_key["p1"].ok and by_key["p5"].ok
    assert not by_key["p2"].ok and "blocked domain" in by_key["p2"].error       # import error, page 1
    assert not by_key["p6"].ok and "blocked domain" in by_key["p6"].error       # import error, page 2
    assert not by_key["p3"].ok and "contains whitespace" in by_key["p3"].error  # never sent
    assert not by_key["p4"].ok and "consent" in by_key["p4"].error
    profiles = {p.get("email") or p.get("external_id"): p for p in server.profiles.values()}
    assert set(profiles) == {"ada@example.com", "c-5"}
    ada = profiles["ada@example.com"]
    assert ada["phone_number"] == "+14155552671" and ada["location"] == {"city": "London"}
    assert ada["properties"] == {"ltv": 120.5}
    assert len(server.lists["LIST1"]) == 2
    assert not server.subscribe_calls
    assert all(r.headers["revision"] and r.headers["authorization"] == "Klaviyo-API-Key pk_test"
               for r in server.requests)


def test_klaviyo_batch_limit_and_oversize_request():
    assert KlaviyoProfiles.max_batch_rows == 10_000
    with KlaviyoAPI() as server:
        client = klaviyo(server, list_id=None)
        batch = [op(f"k{i}", {"email": f"user{i}@example.com"}) for i in range(10_000)]
        assert all(r.ok for r in client.send(batch))
        assert len(server.profiles) == 10_000 and server.jobs[next(iter(server.jobs))]["total"] == 10_000
        big = "x" * 600_000
        with pytest.raises(BatchRejected, match="5 MB"):
            client.send([op(f"b{i}", {"email": f"b{i}@example.com", "notes": big}) for i in range(10)])
        assert all(r.method == "GET" or len(r.body) <= 5 * 1024 * 1024 for r in server.requests)


def test_klaviyo_auth_failure_rate_limit_and_missing_key():
    with KlaviyoAPI(api_key="pk_right", rate_limit=1, window_seconds=30) as server:
        with pytest.raises(AuthenticationFailed, match="not_authenticated"):
            klaviyo(server).send([op("a", {"email": "a@example.com"})])
        server.api_key = "pk_test"
        with pytest.raises(RateLimited) as raised:
            klaviyo(server).send([op("a", {"email": "a@example.com"})])
        assert 29 <= raised.value.retry_after <= 31
    with pytest.raises(ConfigurationError, match="api_key"):
        KlaviyoProfiles.from_config({}, "vip_to_klaviyo")


def test_klaviyo_list_members_add_remove_and_unknown_profile():
    with KlaviyoAPI() as server:
        server.profiles.update({"01A": {}, "01B": {}, "01C": {}})
        client = KlaviyoListMembers.from_config({"api_key": "pk_test", "list_id": "LIST1", "base_url": server.url},
                                                "members")
        results = client.send([op("01A", {}), op("x", {"profile_id": "01B"}), op("01Z", {})])
        assert [r.ok for r in results] == [True, True, False] and "01Z" in results[2].error
        assert server.lists["LIST1"] == {"01A", "01B"}
        assert [r.ok for r in client.send([op("01A", {}, "delete")])] == [True]
        assert server.lists["LIST1"] == {"01B"}
        assert KlaviyoListMembers.max_batch_rows == 1_000
        with pytest.raises(BatchRejected):  # the server enforces 1,000 too
            client.send([op(f"01A{i}", {}) for i in range(1_001)])


# -- Meta ------------------------------------------------------------------------------

def meta(server, **extra) -> MetaCustomAudience:
    spec = {"access_token": "EAAtest", "audience_id": "238500000001", "base_url": server.url,
            "identifiers": ["email", "phone", "first_name", "country"], **extra}
    return MetaCustomAudience.from_config(spec, "vip_to_meta")


def test_meta_adds_hashed_users_and_fails_bad_rows_alone():
    with MetaAPI(app_secret="s3cret") as server:
        client = meta(server, app_secret="s3cret")
        results = client.send([
            op("u1", {"email": " Ada@Example.com", "phone": "+44 20 7946 0958", "first_name": "Ada-May",
                      "country": "GB"}),
            op("u2", {"email": "grace@example.com", "phone": None}),
            op("u3", {"email": "grace@", "phone": "+14155552671"}),
            op("u4", {"phone": "12"}),
            op("u5", {"first_name": None}),
        ])
        assert [r.ok for r in results] == [True, True, False, False, False]
        assert "email: not an email address" in results[2].error
        assert "phone: not a valid number" in results[3].error
        assert "none of" in results[4].error
        assert server.members("238500000001") == {sha("ada@example.com"), sha("grace@example.com")}
        row = next(dict(r) for r in server.audiences["238500000001"] if dict(r)["EMAIL"] == sha("ada@example.com"))
        assert row == {"EMAIL": sha("ada@example.com"), "PHONE": sha("442079460958"), "FN": sha("adamay"),
                       "COUNTRY": sha("gb")}
        assert [r.ok for r in client.send([op("u1", {"email": "ada@example.com"}, "delete")])] == [True]
        assert server.members("238500000001") == {sha("grace@example.com")}


def test_meta_reports_invalid_entries_the_api_names():
    with MetaAPI(reject_values=(sha("refused@example.com"),)) as server:
        client = meta(server, identifiers=["email"])
        results = client.send([op("ok", {"email": "ok@example.com"}), op("bad", {"email": "refused@example.com"})])
        assert results[0].ok
        assert not results[1].ok and "EMAIL value refused" in results[1].error
        assert server.members("238500000001") == {sha("ok@example.com")}


def test_meta_replace_session_swaps_members_only_when_finished():
    with MetaAPI() as server:
        server.audiences["238500000001"] = {(("EMAIL", sha("old@example.com")),)}
        client = meta(server, identifiers=["email"], mode="replace", estimated_num_total=3)
        assert all(r.ok for r in client.send([op("a", {"email": "a@example.com"}), op("b", {"email": "b@example.com"})]))
        assert all(r.ok for r in client.send([op("c", {"email": "c@example.com"}), op("old", {}, "delete")]))
        assert server.members("238500000001") == {sha("old@example.com")}   # not swapped until the last batch
        client.finish()
        client.close()
        assert server.members("238500000001") == {sha(f"{x}@example.com") for x in "abc"}
        sessions = [json.loads(r.form()["session"]) for r in server.requests]
        assert [s["batch_seq"] for s in sessions] == [1, 2, 3]
        assert [s["last_batch_flag"] for s in sessions] == [False, False, True]
        assert len({s["session_id"] for s in sessions}) == 1
        # A run that stops without finish() leaves the audience as it was.
        other = meta(server, identifiers=["email"], mode="replace")
        other.send([op("z", {"email": "z@example.com"})])
        other.close()
        assert server.members("238500000001") == {sha(f"{x}@example.com") for x in "abc"}


def test_meta_limits_auth_and_throttling():
    assert MetaCustomAudience.max_batch_rows == 10_000
    with MetaAPI(rate_limit=2, window_seconds=120) as server:
        client = meta(server, identifiers=["email"])
        assert all(r.ok for r in client.send([op(f"m{i}", {"email": f"m{i}@example.com"}) for i in range(10_000)]))
        with pytest.raises(BatchRejected, match="Too many users"):
            client.send([op(f"n{i}", {"email": f"n{i}@example.com"}) for i in range(10_001)])
        with pytest.raises(RateLimited) as raised:
            client.send([op("r", {"email": "r@example.com"})])
        assert raised.value.retry_after == 120.0    # estimated_time_to_regain_access: 2 minutes
    with MetaAPI() as server:
        with pytest.raises(AuthenticationFailed, match="code 190"):
            meta(server, access_token="wrong").send([op("a", {"email": "a@example.com"})])


# -- Google Ads ------------------------------------------------------------------------

def google(server, **extra) -> GoogleAdsCustomerMatch:
    spec = {"customer_id": "123-456-7890", "user_list_id": "555", "developer_token": "devtoken",
            "access_token": "ya29.test", "base_url": server.url, **extra}
    return GoogleAdsCustomerMatch.from_config(spec, "vip_to_google")


def test_google_customer_match_adds_removes_and_reports_partial_failures():
    with GoogleAdsAPI(reject_values=(sha("refused@example.com"),)) as server:
        client = google(server, consent={"ad_user_data": "GRANTED", "ad_personalization": "GRANTED"})
        results = client.send([
            op("g1", {"email": " Ada@Example.com ", "phone": "(415) 555-2671"}),
            op("g2", {"email": "bob@example.com"}),
            op("g3", {"email": "refused@example.com"}),   # refused by the API, not the client
            op("g4", {"phone": "555"}),
        ])
        assert [r.ok for r in results] == [True, True, False, False]
        assert "INVALID_SHA256_FORMAT" in results[2].error and "phone" in results[3].error
        assert server.members("555") == {sha("ada@example.com"), sha("bob@example.com")}
        assert server.members("555", "hashedPhoneNumber") == {sha("+14155552671")}
        job = next(iter(server.jobs.values()))
        assert job["status"] == "SUCCESS" and job["consent"] == {"adUserData": "GRANTED", "adPersonalization": "GRANTED"}
        assert all(r.ok for r in client.send([op("g2", {"email": "bob@example.com"}, "delete")]))
        assert server.members("555") == {sha("ada@example.com")}


def test_google_replace_job_runs_only_when_finished_and_refreshes_tokens():
    with GoogleAdsAPI(refresh_token="1//refresh") as server:
        server.lists["customers/1234567890/userLists/555"].add(("hashedEmail", sha("old@example.com")))
        spec = {"access_token": None, "client_id": "cid", "client_secret": "csecret", "refresh_token": "1//refresh",
                "token_url": f"{server.url}/token", "mode": "replace"}
        client = google(server, **spec)
        client.send([op("a", {"email": "a@example.com"})])
        client.send([op("b", {"email": "b@example.com"}), op("old", {}, "delete")])
        assert server.members("555") == {sha("old@example.com")}
        client.finish()
        assert server.members("555") == {sha("a@example.com"), sha("b@example.com")}
        assert len(server.jobs) == 1
        with pytest.raises(AuthenticationFailed, match="refresh token"):
            google(server, **{**spec, "refresh_token": "wrong"}).send([op("a", {"email": "a@example.com"})])


def test_google_limits_auth_and_throttling():
    assert GoogleAdsCustomerMatch.max_batch_rows * 2 <= 100_000
    with GoogleAdsAPI(rate_limit=3, window_seconds=45) as server:
        client = google(server)
        # Two identifiers a row: 100,000 in the request, Google's limit. Phones pre-hashed
        # (passed through as they are) to keep the test fast.
        batch = [op(f"g{i}", {"email": f"g{i}@example.com", "phone": sha(f"+1{4155550000 + i}")})
                 for i in range(GoogleAdsCustomerMatch.max_batch_rows)]
        assert all(r.ok for r in client.send(batch))          # create, add, run: 3 requests
        with pytest.raises(RateLimited) as raised:
            client.send([op("x", {"email": "x@example.com"})])
        # quotaErrorDetails.retryDelay: what is left of the 45 s window (less when the machine is slow).
        assert 0 < raised.value.retry_after <= 46
    with GoogleAdsAPI() as server:
        with pytest.raises(AuthenticationFailed, match="developer_token"):
            google(server, developer_token="bad").send([op("a", {"email": "a@example.com"})])


# -- HubSpot ---------------------------------------------------------------------------

def hubspot(server, **extra) -> HubSpotUpsert:
    return HubSpotUpsert.from_config({"access_token": "pat-test", "base_url": server.url, **extra}, "vip_to_hubspot")


def test_hubspot_upserts_by_id_property_with_per_row_errors():
    with HubSpotAPI() as server:
        client = hubspot(server)
        results = client.send([
            op("h1", {"email": "Ada@Example.com", "firstname": "Ada", "phone": "415 555 2671"}),
            op("h2", {"email": "bob@example.com", "favourite_colour": "green"}),
            op("h3", {"email": "bad@"}),
            op("h4", {"firstname": "No email"}),
        ])
        assert [r.ok for r in results] == [True, False, False, False]
        assert "PROPERTY_DOESNT_EXIST" in results[1].error
        assert "email" in results[2].error and "id_property" in results[3].error
        assert server.by("email")["ada@example.com"]["phone"] == "+14155552671"
        assert all(r.ok for r in client.send([op("h1", {"email": "ada@example.com", "lifecyclestage": "customer"})]))
        assert len(server.contacts) == 1 and server.by("email")["ada@example.com"]["firstname"] == "Ada"
        by_profile = hubspot(server, id_property="cdp_profile_id")
        assert by_profile.send([op("p9", {"cdp_profile_id": "p9", "cdp_segment": "vip"})])[0].ok


def test_hubspot_limits_auth_and_throttling():
    assert HubSpotUpsert.max_batch_rows == 100
    with HubSpotAPI(rate_limit=2, window_seconds=10) as server:
        client = hubspot(server)
        assert all(r.ok for r in client.send([op(f"h{i}", {"email": f"h{i}@example.com"}) for i in range(100)]))
        with pytest.raises(BatchRejected, match="limit exceeded"):
            client.send([op(f"h{i}", {"email": f"h{i}@example.com"}) for i in range(101)])
        with pytest.raises(RateLimited) as raised:
            client.send([op("x", {"email": "x@example.com"})])
        assert raised.value.retry_after == 10.0               # X-HubSpot-RateLimit-Interval-Milliseconds
    with HubSpotAPI() as server:
        with pytest.raises(AuthenticationFailed, match="INVALID_AUTHENTICATION"):
            hubspot(server, access_token="wrong").send([op("a", {"email": "a@example.com"})])


# -- Salesforce ------------------------------------------------------------------------

def salesforce(server, **extra) -> SalesforceUpsert:
    spec = {"instance_url": server.url, "access_token": "00Dtest!session", "external_id_field": "CDP_Profile_Id__c",
            **extra}
    return SalesforceUpsert.from_config(spec, "vip_to_salesforce")


def test_salesforce_upserts_by_external_id_with_per_row_results():
    with SalesforceAPI(locked_ids=("p3",)) as server:
        client = salesforce(server)
        results = client.send([
            op("p1", {"Email": " Ada@Example.com", "LastName": "Lovelace"}),
            op("p2", {"Email": "bad@", "LastName": "Hopper"}),
            op("p3", {"LastName": "Locked"}),
            op("p4", {"CDP_Profile_Id__c": "p4", "LastName": "Turing", "Segment__c": "vip"}),
        ])
        assert [r.ok for r in results] == [True, False, False, True]
        assert "email" in results[1].error.lower() and not results[1].retryable
        assert "UNABLE_TO_LOCK_ROW" in results[2].error and results[2].retryable
        assert server.records["p1"]["Email"] == "ada@example.com"
        first_id = server.records["p1"]["Id"]
        client.send([op("p1", {"LastName": "Byron"})])
        assert server.records["p1"]["LastName"] == "Byron" and server.records["p1"]["Id"] == first_id
        body = server.requests[0].json()
        assert body["allOrNone"] is False and body["records"][0]["attributes"] == {"type": "Contact"}


def test_salesforce_limits_auth_config_and_request_limit():
    assert SalesforceUpsert.max_batch_rows == 200
    with SalesforceAPI(daily_limit=2) as server:
        client = salesforce(server, limit_wait_seconds=900)
        assert all(r.ok for r in client.send([op(f"s{i}", {"LastName": f"N{i}"}) for i in range(200)]))
        with pytest.raises(BatchRejected, match="EXCEEDED_ID_LIMIT"):
            client.send([op(f"s{i}", {"LastName": f"N{i}"}) for i in range(201)])
        with pytest.raises(RateLimited) as raised:
            client.send([op("s1", {"LastName": "N"})])
        assert raised.value.retry_after == 900
    with SalesforceAPI() as server:
        with pytest.raises(AuthenticationFailed, match="INVALID_SESSION_ID"):
            salesforce(server, access_token="expired").send([op("a", {"LastName": "A"})])
        with pytest.raises(ConfigurationError, match="No such column"):
            salesforce(server).send([op("a", {"Shoe_Size__c": 9})])
    with pytest.raises(ConfigurationError, match="external_id_field"):
        SalesforceUpsert.from_config({"instance_url": "https://x.my.salesforce.com", "access_token": "t"}, "s")
