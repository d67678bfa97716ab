"""The lean validation of bulk items (``csintegration/api/lean.py``) gives what DRF's ``run_validation``
gives: on every item it accepts, the same data; every item DRF refuses, it leaves to DRF (so the errors are
DRF's). Items are generated from the fields of each bulk item serializer, valid and not."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from csintegration.api.fields import PrefixedIdField
from csintegration.api.lean import _GENERIC, _NESTED, LeanValidator, _Fallback, _kind, validate_body
from domains.customers.api.serializers import (
    CustomerSerializer,
    HealthChangeRequestSerializer,
    SignalsBulkItemSerializer,
)
from domains.product.api.serializers import UsageSerializer


class LevelSerializer(serializers.Serializer):
    score = serializers.IntegerField(min_value=0, max_value=10)
    ratio = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True)


class EveryKindSerializer(serializers.Serializer):
    """A field of each kind the lean path reads, and the hooks it calls."""

    key = PrefixedIdField(prefix="cust")
    label = serializers.CharField(max_length=5, min_length=2, allow_blank=True, required=False)
    note = serializers.CharField(required=False, allow_null=True, default="none")
    mail = serializers.EmailField(required=False)
    kind = serializers.ChoiceField(choices=["a", "b"], allow_blank=True, required=False)
    active = serializers.BooleanField(required=False)
    level = LevelSerializer(required=False)
    flat = LevelSerializer(source="*", required=False)
    dotted = serializers.IntegerField(source="deep.value", required=False)
    at = serializers.DateTimeField(required=False)
    created = serializers.DateTimeField(read_only=True)

    def validate_label(self, value):
        if value == "no":
            raise serializers.ValidationError("Not that label.")
        return value.upper()

    def validate(self, attrs):
        if attrs.get("kind") == "b" and not attrs.get("active"):
            raise serializers.ValidationError("b needs active.")
        return attrs


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 12)
    | st.floats(-0.5, 1.5)
    | st.text(max_size=7)
    | st.sampled_from(
        [
            "",
            "a",
            "b",
            "no",
            "abc",
            "cust_1",
            "cust_x-y",
            "cust_",
            "x@example.com",
            "bad@",
            "enterprise",
            "mid_market",
            "adoption",
            "feat_1",
            "2026-11-30",
            "2026-11-30T10:00:00Z",
            "\x00",
            "ab\ud800",
            "at_risk",
            "healthy",
        ]
    )
)


def _valid(field: serializers.Field):
    """Values the field may take (most of the time), so that many generated items are valid."""
    if isinstance(field, serializers.Serializer):
        return _items(field)
    if isinstance(field, serializers.ChoiceField):
        return st.sampled_from([str(key) for key in field.choices])
    if isinstance(field, PrefixedIdField):
        return st.from_regex(rf"\A{field.prefix}_[a-z0-9_-]{{1,6}}\Z")
    if isinstance(field, serializers.EmailField):
        return st.sampled_from(["csm@example.com", "a.b@example.org"])
    if isinstance(field, serializers.BooleanField):
        return st.booleans()
    if isinstance(field, serializers.IntegerField):
        return st.integers(field.min_value or -5, field.max_value or 100)
    if isinstance(field, serializers.FloatField | serializers.DecimalField):
        return st.floats(field.min_value or -5, field.max_value or 100) | st.integers(0, 10)
    if isinstance(field, serializers.DateTimeField):
        return st.sampled_from(["2026-11-30T10:00:00Z", "2026-11-30T10:00:00.123+01:00"])
    if isinstance(field, serializers.DateField):
        return st.sampled_from(["2026-11-30", "2026-12-01"])
    if isinstance(field, serializers.CharField):
        return st.text(min_size=0, max_size=field.max_length or 8)
    return SCALARS


def _items(serializer: serializers.Serializer):
    """Items with some of the serializer's fields (and now and then an unknown one), each value most often
    one the field may take, else any JSON scalar."""
    fields = {name: field for name, field in serializer.fields.items() if not field.read_only}
    values = {name: st.one_of(*[_valid(field)] * 5, SCALARS) for name, field in fields.items()}
    required = {name: values[name] for name, field in fields.items() if field.required}
    optional = {name: values[name] for name, field in fields.items() if not field.required}
    return st.fixed_dictionaries(required, optional={**optional, "unknown": SCALARS})


def _drf(serializer, item):
    try:
        return True, serializer.run_validation(item)
    except ValidationError:
        return False, None


def _lean(lean, item):
    try:
        return True, lean._run(lean._plan, item)
    except _Fallback:
        return False, None


SERIALIZERS = {
    "customer bulk (partial)": lambda: CustomerSerializer(data={}, partial=True),
    "customer": lambda: CustomerSerializer(data={}),
    "signals": lambda: SignalsBulkItemSerializer(data={}),
    "usage": lambda: UsageSerializer(data={}),
    "health change": lambda: HealthChangeRequestSerializer(data={}),
    "every kind": lambda: EveryKindSerializer(data={}),
    "every kind (partial)": lambda: EveryKindSerializer(data={}, partial=True),
}


@pytest.mark.parametrize("name", SERIALIZERS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_what_the_lean_path_accepts_is_what_drf_gives(name, data):
    serializer = SERIALIZERS[name]()
    lean = LeanValidator(serializer)
    item = data.draw(_items(serializer))
    accepted, value = _lean(lean, item)
    if accepted:
        assert _drf(serializer, item) == (True, value)
    # Whichever path decides, validate() answers as DRF does: the same data, or the same errors.
    try:
        outcome = ("data", lean.validate(item))
    except ValidationError as error:
        outcome = ("errors", error.detail)
    try:
        expected = ("data", serializer.run_validation(item))
    except ValidationError as error:
        expected = ("errors", error.detail)
    assert outcome == expected


def test_valid_items_take_the_lean_path():
    lean = LeanValidator(EveryKindSerializer(data={}))
    item = {
        "key": "cust_1",
        "label": "ab",
        "mail": "x@example.com",
        "kind": "b",
        "active": True,
        "level": {"score": 3},
        "flat": {"score": 4},
        "dotted": 7,
        "created": "ignored",
    }
    accepted, value = _lean(lean, item)
    assert accepted
    assert value == {
        "key": "cust_1",
        "label": "AB",
        "note": "none",
        "mail": "x@example.com",
        "kind": "b",
        "active": True,
        "level": {"score": 3},
        "score": 4,
        "deep": {"value": 7},
    }
    assert value == _drf(EveryKindSerializer(data={}), item)[1]


def test_a_customer_record_of_a_bulk_import_takes_the_lean_path():
    serializer = CustomerSerializer(data={}, partial=True)
    record = {
        "customer_id": "cust_1",
        "name": "Acme",
        "segment": "enterprise",
        "arr": 5000,
        "success_manager": "csm@example.com",
        "health_score": 70,
        "lifecycle_stage": "adoption",
        "success_metrics": {"adoption_rate": 0.5, "nps_score": 10},
        "integration_status": {"sales": "handed_off"},
    }
    lean = LeanValidator(serializer)
    assert _lean(lean, record) == _drf(serializer, record)
    assert _lean(lean, record)[0]


def test_an_invalid_item_gets_drf_errors():
    serializer = EveryKindSerializer(data={})
    lean = LeanValidator(serializer)
    with pytest.raises(ValidationError) as lean_error:
        lean.validate({"key": "nope", "label": "no", "kind": "c"})
    with pytest.raises(ValidationError) as drf_error:
        serializer.run_validation({"key": "nope", "label": "no", "kind": "c"})
    assert lean_error.value.detail == drf_error.value.detail


def test_fields_the_lean_path_does_not_read_run_their_own_validation():
    serializer = EveryKindSerializer(data={})
    assert _kind(serializer.fields["at"]) == _GENERIC
    assert _kind(serializer.fields["level"]) == _NESTED
    assert (
        _kind(SignalsBulkItemSerializer(data={}).fields["signals"]) == _GENERIC
    )  # its own to_internal_value


@pytest.mark.parametrize(
    "body",
    [
        {"customer_id": "cust_1", "previous_score": 60, "new_score": 66, "change_reason": "usage_growth"},
        {
            "customer_id": "cust_1",
            "previous_score": 60,
            "new_score": 66,
            "change_reason": "x",
            "trigger_events": ["a"],
        },
        {"customer_id": "cust_1", "previous_score": 60, "new_score": 101, "change_reason": "x"},
        {"customer_id": "nope", "previous_score": "60", "change_reason": ""},
        {
            "customer_id": "cust_1",
            "previous_score": 1,
            "new_score": 2,
            "change_reason": "x",
            "timestamp": "2999-01-01",
        },
        {"customer_id": "cust_1", "previous_score": 1, "new_score": 2, "change_reason": "x", "extra": 1},
        [],
    ],
)
def test_a_body_validated_by_the_shared_validator_is_what_is_valid_gives(body):
    """``validate_body``: a view's one body per request, through one LeanValidator per serializer class."""
    serializer = HealthChangeRequestSerializer(data=body)
    if serializer.is_valid():
        assert validate_body(HealthChangeRequestSerializer, body) == serializer.validated_data
    else:
        with pytest.raises(ValidationError) as raised:
            validate_body(HealthChangeRequestSerializer, body)
        assert raised.value.detail == serializer.errors
