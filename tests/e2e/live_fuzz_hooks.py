"""schemathesis hooks of the live fuzz run (``test_live_api_fuzzing.py``), loaded by the CLI through
``SCHEMATHESIS_HOOKS``.

- Operations marked ``x-signature-required`` are signed for real (RFC 9421, the client's signing secret
  from ``FUZZ_CLIENT_ID``/``FUZZ_SIGNING_SECRET``), after the body is serialised, so the signature covers
  the bytes sent; a nonce makes each signature unique, as the server accepts each one once.
- In positive cases, which the schema promises to be well formed, what a schema cannot know is made
  true, as a client would have it:
  - the server's clock: a value bound by ``x-relative-to-now`` (the window, relative to the server's
    clock, that the field's validator enforces) is moved into its window; any other time in a body
    that lies in the future is moved to the past;
  - stored data: a body's ``customer_id`` names a customer that exists (``FUZZ_CUSTOMER_IDS``; the
    path's own where the operation has one, as the server requires them to agree), one per item of a
    list, a ``workflow_type`` an active template (``FUZZ_WORKFLOW_TYPES``), ``customer_segments``
    segments that exist (``FUZZ_SEGMENTS``), a payment's optional ``contract_id`` none; a webhook
    receiver URL resolves to an address the server admits; and no request deletes a fuzz customer;
  - rules across fields and the stored state: the dates of a pair (``start_date``/``end_date``, …)
    are in order, a run names steps its template can run, a feedback planned names its release;
  - a cursor is dropped (it is opaque: only the server makes valid ones, and any other is a 400) and
    an ``Idempotency-Key`` is made unique to its case (a client uses a new key per request; a random
    generator reuses short keys with other bodies, which is the documented 422).
"""

import json
import os
import re
import uuid
from datetime import UTC, datetime, timedelta

import requests
import schemathesis
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms


class SignRequest(requests.auth.AuthBase):
    def __init__(self, client_id: str, signing_secret: str) -> None:
        self.client_id = client_id
        self.signer = HTTPMessageSigner(
            signature_algorithm=algorithms.HMAC_SHA256,
            key_resolver=MappingKeyResolver(
                public_keys={}, private_keys={client_id: signing_secret.encode()}
            ),
        )

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        self.signer.sign(
            request,
            key_id=self.client_id,
            nonce=uuid.uuid4().hex,
            covered_component_ids=("@method", "@path", "content-digest"),
            body=body.encode() if isinstance(body, str) else body,
        )
        return request


PAST = "2025-01-31T09:30:00Z"


def _no_future_times(node) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in list(items):
        if isinstance(value, str) and len(value) >= 20 and value[4:5] == "-" and value[10:11] == "T":
            try:
                # Seconds are precise enough here; Python 3.11 reads at most 6 fraction digits.
                moment = datetime.fromisoformat(re.sub(r"\.\d+", "", value).replace("Z", "+00:00"))
            except ValueError:
                continue
            if moment.tzinfo is not None and moment > datetime.now(UTC):
                node[key] = PAST
        else:
            _no_future_times(value)


RELATIVE_TO_NOW = "x-relative-to-now"
#: how far inside its window a value is put, so that the seconds until the server reads it do not matter
MARGIN = timedelta(hours=1)


def _resolve(schema, root: dict) -> dict:
    while isinstance(schema, dict) and "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    if isinstance(schema, dict) and len(schema.get("allOf", ())) == 1:
        return _resolve(schema["allOf"][0], root)
    return schema if isinstance(schema, dict) else {}


def _inside_clock_window(value: str, schema: dict) -> str:
    """``value`` if it lies in the window of the server's clock that the schema states, else a value in
    the middle of the window's near end, written as the schema's format (a date, a time, or a month
    for a period, whose first day is what counts)."""
    window = schema[RELATIVE_TO_NOW]
    now = datetime.now(UTC)
    earliest = window.get("earliest_seconds")
    latest = window.get("latest_seconds")
    low = None if earliest is None else now + timedelta(seconds=earliest) + MARGIN
    high = None if latest is None else now + timedelta(seconds=latest) - MARGIN
    moment = _parse_moment(value, schema)
    if moment is not None and (low is None or moment >= low) and (high is None or moment <= high):
        return value
    target = now
    if low is not None and target < low:
        target = low + timedelta(days=1)
    if high is not None and target > high:
        target = high - timedelta(days=1)
    if schema.get("format") == "date-time":
        return target.strftime("%Y-%m-%dT%H:%M:%SZ")
    if schema.get("format") == "date":
        return target.date().isoformat()
    return (target - timedelta(days=31)).strftime("%Y-%m")  # a period: a month that has started


def _parse_moment(value, schema: dict) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        if schema.get("format") == "date-time":
            return datetime.fromisoformat(re.sub(r"\.\d+", "", value).replace("Z", "+00:00"))
        if schema.get("format") == "date":
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        return None
    return None  # a period: always replaced by one that has started


def _known(name: str) -> list[str]:
    return [value for value in os.environ.get(name, "").split(",") if value]


def _make_true(node, schema, root: dict, path_customer: str | None) -> None:
    """Walk a body beside its schema, making true what the schema cannot know (see the module)."""
    schema = _resolve(schema, root)
    if isinstance(node, list):
        items = schema.get("items", {})
        customers = _known("FUZZ_CUSTOMER_IDS")
        if any(isinstance(item, dict) and "customer_id" in item for item in node) and path_customer is None:
            del node[len(customers) :]  # one known customer per item: some lists refuse a customer twice
            for item, customer_id in zip(node, customers, strict=False):
                if isinstance(item, dict) and "customer_id" in item:
                    item["customer_id"] = customer_id
        for item in node:
            _make_true(item, items, root, path_customer)
        return
    if not isinstance(node, dict):
        return
    properties = schema.get("properties", {})
    for name, value in list(node.items()):
        field = _resolve(properties.get(name, {}), root)
        if RELATIVE_TO_NOW in field and isinstance(value, str):
            node[name] = _inside_clock_window(value, field)
        elif name == "customer_id" and isinstance(value, str):
            customers = _known("FUZZ_CUSTOMER_IDS")
            node[name] = path_customer or (value if value in customers else customers[0])
        elif name == "workflow_type" and isinstance(value, str):
            templates = _known("FUZZ_WORKFLOW_TYPES")
            node[name] = value if value in templates else templates[0]
        elif name == "customer_segments" and isinstance(value, list):
            segments = _known("FUZZ_SEGMENTS")
            node[name] = [segment if segment in segments else segments[0] for segment in value]
        elif name == "contract_id" and isinstance(value, str):
            node[name] = None  # optional; the fuzz customers have no contract
        else:
            _make_true(value, field, root, path_customer)


#: (earlier, later) fields that the server wants in order: a rule across fields that JSON Schema cannot state
ORDERED_PAIRS = (("start_date", "end_date"), ("onboarding_start", "first_check_in"))
#: the ends of a date range the platform takes, to complete a pair that an update sends one side of
EARLIEST_DAY, LATEST_DAY = "1970-01-01", "2199-12-31"


def _ordered(node) -> None:
    """Put each ordered pair of a body in order (an update sending one side gets the other too, as the
    stored one may lie on either side of it)."""
    if isinstance(node, list):
        for item in node:
            _ordered(item)
        return
    if not isinstance(node, dict):
        return
    for earlier, later in ORDERED_PAIRS:
        first, second = node.get(earlier), node.get(later)
        if isinstance(first, str) and isinstance(second, str) and second < first:
            node[earlier], node[later] = second, first
        elif isinstance(first, str) and later not in node and earlier == "start_date":
            node[later] = LATEST_DAY
        elif isinstance(second, str) and earlier not in node and earlier == "start_date":
            node[earlier] = EARLIEST_DAY
    for value in node.values():
        _ordered(value)


#: a feedback's statuses that keep a committed release (domains/product): planning needs one
COMMITTED_STATUSES = ("planned", "in_progress", "delivered")


def _consistent(case) -> None:
    """Rules across fields (and the stored state) that JSON Schema cannot state: a run's steps are
    ones its template can run (``FUZZ_WORKFLOW_STEPS``); a feedback planned names its release, one
    given a release is planned (a new one can be), one giving it up moves back to review, and one moved
    elsewhere keeps none."""
    body = case.body
    if not isinstance(body, dict):
        return
    steps = body.get("automation_steps")
    if isinstance(steps, list) and isinstance(body.get("workflow_type"), str):
        runnable = json.loads(os.environ.get("FUZZ_WORKFLOW_STEPS", "{}")).get(body["workflow_type"], [])
        if runnable:
            body["automation_steps"] = [step if step in runnable else runnable[0] for step in steps]
    if case.method == "PATCH" and case.operation.path.startswith("/api/v1/cs-product/feedback/"):
        status, release = body.get("status"), body.get("committed_release")
        if status == "planned" and not release:
            body["committed_release"] = "2026.1"
        elif release and status is None:
            body["status"] = "planned"
        elif "committed_release" in body and not release and status is None:
            body["status"] = "under_review"  # a planned one gives its release up only by moving back
        elif release and status not in COMMITTED_STATUSES:
            body["committed_release"] = None


def _keeps_the_fuzz_customers(case) -> None:
    """The requests name the fuzz customers, so no request deletes one: a delete is sent for a
    customer that does not exist instead (a 404, which the schema states)."""
    parameters = case.path_parameters or {}
    if case.method == "DELETE" and parameters.get("customer_id") in _known("FUZZ_CUSTOMER_IDS"):
        parameters["customer_id"] = "cust_fuzz_absent"


def _creates_customers(case) -> bool:
    return case.method == "POST" and case.operation.path.startswith("/api/v1/cs-integration/customers")


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.definition.raw.get("x-signature-required"):
        kwargs["auth"] = SignRequest(os.environ["FUZZ_CLIENT_ID"], os.environ["FUZZ_SIGNING_SECRET"])
    _keeps_the_fuzz_customers(case)
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    _no_future_times(case.body)
    definition = case.operation.definition.raw
    root = case.operation.schema.raw_schema
    if case.body is not None and not _creates_customers(case):
        body_schema = (
            definition.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        )
        path_customer = (case.path_parameters or {}).get("customer_id")
        _make_true(case.body, body_schema, root, path_customer)
        _ordered(case.body)
        _consistent(case)
    for parameter in definition.get("parameters", []):
        schema = _resolve(parameter.get("schema", {}), root)
        if parameter.get("in") == "query" and RELATIVE_TO_NOW in schema and case.query:
            if isinstance(case.query.get(parameter["name"]), str):
                case.query[parameter["name"]] = _inside_clock_window(case.query[parameter["name"]], schema)
    if case.query and "cursor" in case.query:
        del case.query["cursor"]
    if isinstance(case.body, dict) and "url" in case.body and "/webhooks" in case.operation.path:
        # A receiver URL is valid only if its host resolves to an admitted address, which a generator
        # cannot know; the server admits loopback receivers here (WEBHOOK_ALLOWED_NETWORKS).
        case.body["url"] = "http://127.0.0.1:9/fuzz-receiver"
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = (
            f"{str(case.headers['Idempotency-Key'])[:200].strip()}-{uuid.uuid4().hex}"
        )
