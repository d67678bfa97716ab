"""``PlannedRepresentationMixin`` answers exactly what DRF's own ``to_representation`` answers."""

from decimal import Decimal
from types import SimpleNamespace

import pytest
from rest_framework import serializers

from csintegration.api.representation import PlannedRepresentationMixin
from domains.customers.api.serializers import CustomerSerializer
from domains.customers.models import Customer


class Inner(serializers.Serializer):
    city = serializers.CharField(source="address.city")
    code = serializers.CharField()


class Generic(serializers.Serializer):
    name = serializers.CharField()
    amount = serializers.DecimalField(max_digits=8, decimal_places=2)
    missing_ok = serializers.CharField(required=False)
    nothing = serializers.IntegerField(allow_null=True)
    shout = serializers.SerializerMethodField()
    place = Inner(source="*")
    label = serializers.CharField(source="describe")

    def get_shout(self, obj):
        return (obj["name"] if isinstance(obj, dict) else obj.name).upper()


class Planned(PlannedRepresentationMixin, Generic):
    pass


def _row(**overrides):
    fields = {
        "name": "Acme",
        "amount": Decimal("12.5"),
        "nothing": None,
        "address": SimpleNamespace(city="Lyon"),
        "code": "FR",
        "describe": lambda: "a callable source",
    }
    return SimpleNamespace(**{**fields, **overrides})


@pytest.mark.parametrize(
    "instance",
    [
        _row(),
        _row(missing_ok="here"),
        {"name": "a dict", "amount": 1, "nothing": 3, "address": {"city": "X"}, "code": "Y", "describe": "Z"},
    ],
    ids=["object", "optional-present", "mapping"],
)
def test_same_output_as_drf(instance):
    assert Planned(instance).data == Generic(instance).data


def test_same_output_for_many_rows_with_one_child():
    rows = [_row(name=f"n{n}", nothing=n if n % 2 else None) for n in range(5)]
    assert Planned(rows, many=True).data == Generic(rows, many=True).data


@pytest.mark.django_db
def test_the_customer_representation_is_drf_s(monkeypatch):
    customers = [
        Customer.objects.create(customer_id="cust_rep1", name="One", arr=Decimal("10.10"), health_score=80),
        Customer.objects.create(
            customer_id="cust_rep2", name="Two", success_manager="csm@example.com", adoption_rate=None
        ),
    ]
    planned = CustomerSerializer(customers, many=True).data
    # The same serializers, nested ones included, with DRF's own to_representation.
    monkeypatch.setattr(
        PlannedRepresentationMixin,
        "to_representation",
        lambda self, instance: serializers.Serializer.to_representation(self, instance),
    )
    assert planned == CustomerSerializer(customers, many=True).data


class Flat(PlannedRepresentationMixin, serializers.Serializer):
    name = serializers.CharField()
    amount = serializers.DecimalField(max_digits=8, decimal_places=2)
    code = serializers.CharField()


class FlatWithInit(Flat):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.pop("code", None)  # fields that depend on the instance: never shared


@pytest.mark.django_db
def test_a_plan_without_context_is_shared_and_later_instances_build_no_fields():
    first = Customer(customer_id="cust_shared1", name="One", arr=Decimal("1.50"), health_score=70)
    second = Customer(customer_id="cust_shared2", name="Two", success_manager="csm@example.com")
    assert CustomerSerializer(first).data["customer_id"] == "cust_shared1"
    assert "_shared_plan" in CustomerSerializer.__dict__
    later = CustomerSerializer(second)
    answer = later.data
    assert "fields" not in later.__dict__  # DRF's cached_property: the declared fields were not copied
    assert answer == serializers.Serializer.to_representation(CustomerSerializer(second), second)
    assert answer["success_metrics"] == {"adoption_rate": None, "engagement_score": None, "nps_score": None}


def test_a_plan_that_may_depend_on_the_instance_is_not_shared():
    assert Planned(_row()).data == Generic(_row()).data
    assert "_shared_plan" not in Planned.__dict__  # a method field and a dotted source
    row = _row()
    assert FlatWithInit(row).data == {"name": "Acme", "amount": Decimal("12.50")}
    assert "_shared_plan" not in FlatWithInit.__dict__
    assert Flat(row).data == {"name": "Acme", "amount": Decimal("12.50"), "code": "FR"}
    assert "_shared_plan" in Flat.__dict__ and "_shared_plan" not in FlatWithInit.__dict__
    assert FlatWithInit(row).data == {"name": "Acme", "amount": Decimal("12.50")}


def test_a_mapping_answer_is_drf_s_and_builds_no_fields_after_the_first():
    """A view answering a dict (the health-change answer) reads it by key through the class's plan."""
    from datetime import UTC, datetime

    from domains.customers.api.serializers import HealthChangeResponseSerializer

    class Plain(serializers.Serializer):  # the same fields, DRF's own representation
        pass

    Plain._declared_fields = HealthChangeResponseSerializer._declared_fields
    body = {
        "event_id": "evt_1",
        "applied": True,
        "not_applied_reason": None,
        "customer_id": "cust_1",
        "previous_score": 60,
        "stored_previous_score": 61,
        "previous_score_matched": False,
        "previous_score_difference": -1,
        "new_score": 66,
        "health_score": 66,
        "health_trend": "improving",
        "risk_level": "medium",
        "previous_risk_level": "medium",
        "churn_risk_detected": False,
        "churn_event_id": None,
        "snapshot_id": 7,
        "timestamp": datetime(2026, 12, 4, 8, 0, 0, 123456, tzinfo=UTC),
    }
    assert HealthChangeResponseSerializer(body).data == Plain(body).data
    later = HealthChangeResponseSerializer(body)
    assert later.data == Plain(body).data
    assert "fields" not in later.__dict__
    missing = {key: value for key, value in body.items() if key != "snapshot_id"}
    with pytest.raises(KeyError):
        Plain(missing).data  # noqa: B018 (DRF's error for a missing key, which the plan leaves to DRF)
    with pytest.raises(KeyError):
        HealthChangeResponseSerializer(missing).data  # noqa: B018
