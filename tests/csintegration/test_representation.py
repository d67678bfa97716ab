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
