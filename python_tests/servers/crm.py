"""HubSpot's and Salesforce's upsert contracts.

HubSpot: Bearer private-app token; ``batch/upsert`` of at most 100 inputs by a unique
``idProperty``; properties must exist; 207 Multi-Status with per-input errors carrying
the ``objectWriteTraceId``; 429 with the X-HubSpot-RateLimit-* headers past the rate.

Salesforce: Bearer session; sObject Collections upsert of at most 200 records by an
external ID field, ``allOrNone`` honoured; one result per record in order; unknown fields
refuse the request; REQUEST_LIMIT_EXCEEDED (403) once the configured limit is spent.
"""

from __future__ import annotations

import itertools

from . import EMAIL, FakeAPI, Reply, Request


class HubSpotAPI(FakeAPI):
    MAX_INPUTS = 100

    def __init__(self, token: str = "pat-test", unique_properties: tuple[str, ...] = ("email", "cdp_profile_id"),
                 properties: tuple[str, ...] = ("email", "firstname", "lastname", "phone", "lifecyclestage",
                                                "cdp_profile_id", "cdp_segment"), **kwargs):
        super().__init__(**kwargs)
        self.token = token
        self.unique_properties = set(unique_properties)
        self.known_properties = set(properties)
        self.contacts: dict[str, dict] = {}      # hs_object_id -> properties
        self._ids = itertools.count(101)

    def rate_limited(self, wait_seconds: int) -> Reply:
        return Reply(429, {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                           "errorType": "RATE_LIMIT", "correlationId": "c0ffee", "policyName": "TEN_SECONDLY_ROLLING"},
                     {"X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.window_seconds * 1000)),
                      "X-HubSpot-RateLimit-Max": str(self.rate_limit), "X-HubSpot-RateLimit-Remaining": "0"})

    def handle(self, request: Request) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, {"status": "error", "category": "INVALID_AUTHENTICATION", "correlationId": "c0ffee",
                               "message": "Authentication credentials not found."})
        if request.method != "POST" or request.path != "/crm/v3/objects/contacts/batch/upsert":
            return Reply(404, {"status": "error", "category": "OBJECT_NOT_FOUND", "message": request.path})
        inputs = (request.json() or {}).get("inputs") or []
        if len(inputs) > self.MAX_INPUTS:
            return Reply(400, {"status": "error", "category": "VALIDATION_ERROR", "correlationId": "c0ffee",
                               "message": f"Batch input limit exceeded: {len(inputs)} > {self.MAX_INPUTS}"})
        results, errors = [], []
        for item in inputs:
            trace = item.get("objectWriteTraceId")
            id_property, record_id = item.get("idProperty"), str(item.get("id") or "")
            properties = item.get("properties") or {}
            problem = None
            if id_property not in self.unique_properties:
                problem = ("VALIDATION_ERROR", f"Property {id_property} is not a unique identifier property")
            elif not record_id:
                problem = ("VALIDATION_ERROR", "id is required")
            elif unknown := sorted(set(properties) - self.known_properties):
                problem = ("VALIDATION_ERROR", f"Property values were not valid: PROPERTY_DOESNT_EXIST {unknown}")
            elif id_property == "email" and not EMAIL.fullmatch(record_id) or \
                    properties.get("email") and not EMAIL.fullmatch(properties["email"]):
                problem = ("VALIDATION_ERROR", f"Property values were not valid: INVALID_EMAIL {record_id}")
            if problem:
                errors.append({"status": "error", "category": problem[0], "message": problem[1],
                               "context": {"objectWriteTraceId": [trace]} if trace else {"ids": [record_id]}})
                continue
            existing = next((hs_id for hs_id, props in self.contacts.items()
                             if str(props.get(id_property, "")).lower() == record_id.lower()), None)
            hs_id = existing or str(next(self._ids))
            self.contacts.setdefault(hs_id, {id_property: record_id}).update(properties)
            results.append({"id": hs_id, "new": existing is None, "properties": self.contacts[hs_id],
                            "objectWriteTraceId": trace})
        body = {"status": "COMPLETE", "results": results}
        if errors:
            body.update(numErrors=len(errors), errors=errors)
        return Reply(207 if errors else 200, body)

    def by(self, prop: str) -> dict[str, dict]:
        return {props.get(prop): props for props in self.contacts.values()}


class SalesforceAPI(FakeAPI):
    MAX_RECORDS = 200

    def __init__(self, token: str = "00Dtest!session", sobject: str = "Contact",
                 external_id_field: str = "CDP_Profile_Id__c",
                 fields: tuple[str, ...] = ("CDP_Profile_Id__c", "Email", "FirstName", "LastName", "Phone",
                                            "Segment__c"),
                 locked_ids: tuple[str, ...] = (), daily_limit: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.token = token
        self.sobject = sobject
        self.external_id_field = external_id_field
        self.fields = set(fields)
        self.locked_ids = set(locked_ids)
        self.daily_limit = daily_limit
        self.calls = 0
        self.records: dict[str, dict] = {}      # external id -> fields
        self._ids = itertools.count(1)

    def handle(self, request: Request) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
        self.calls += 1
        if self.daily_limit is not None and self.calls > self.daily_limit:
            return Reply(403, [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
        prefix = "/services/data/v60.0/composite/sobjects/"
        if request.method != "PATCH" or not request.path.startswith(prefix):
            return Reply(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
        sobject, _, field = request.path.removeprefix(prefix).partition("/")
        if sobject != self.sobject:
            return Reply(404, [{"errorCode": "NOT_FOUND", "message": f"sObject type '{sobject}' is not supported."}])
        if field != self.external_id_field:
            return Reply(404, [{"errorCode": "NOT_FOUND", "message": f"Provided external ID field does not exist or "
                                                                      f"is not accessible: {field}"}])
        body = request.json() or {}
        records = body.get("records") or []
        if len(records) > self.MAX_RECORDS:
            return Reply(400, [{"message": "record limit reached. cannot submit more than 200 records into this call",
                                "errorCode": "EXCEEDED_ID_LIMIT"}])
        for record in records:
            unknown = set(record) - self.fields - {"attributes"}
            if unknown:
                return Reply(400, [{"message": f"No such column '{sorted(unknown)[0]}' on sobject of type "
                                               f"{self.sobject}", "errorCode": "INVALID_FIELD"}])
        answers, staged = [], {}
        for record in records:
            key = record.get(field)
            errors = []
            if (record.get("attributes") or {}).get("type") != self.sobject:
                errors.append({"statusCode": "INVALID_TYPE", "message": "attributes.type is required", "fields": []})
            elif not key:
                errors.append({"statusCode": "MISSING_ARGUMENT", "message": f"{field} not specified", "fields": []})
            elif key in self.locked_ids:
                errors.append({"statusCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access to "
                               "this record", "fields": []})
            elif record.get("Email") and not EMAIL.fullmatch(record["Email"]):
                errors.append({"statusCode": "INVALID_EMAIL_ADDRESS", "message": f"Email: invalid email address: "
                               f"{record['Email']}", "fields": ["Email"]})
            if errors:
                answers.append({"success": False, "errors": errors})
                continue
            created = key not in self.records and key not in staged
            sf_id = self.records.get(key, {}).get("Id") or f"003{next(self._ids):015d}"
            staged[key] = {**self.records.get(key, {}), **staged.get(key, {}),
                           **{k: v for k, v in record.items() if k != "attributes"}, "Id": sf_id}
            answers.append({"id": sf_id, "success": True, "errors": [], "created": created})
        if body.get("allOrNone") and any(not a["success"] for a in answers):
            return Reply(200, [a if not a["success"] else {"success": False, "errors": [
                {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": "Record rolled back because not all "
                 "records were valid and the request was using AllOrNone header", "fields": []}]} for a in answers])
        self.records.update(staged)
        return Reply(200, answers)
