"""Every write to customers. Keyword-only, typed; each owns its transaction."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from .models import Customer, new_customer_id
from .scoring import risk_level_for_score

# Fields a caller may set; everything else (timestamps, id after creation) belongs to the platform.
WRITABLE_FIELDS = (
    "name",
    "segment",
    "arr",
    "success_manager",
    "health_score",
    "health_trend",
    "risk_level",
    "lifecycle_stage",
    "adoption_rate",
    "engagement_score",
    "nps_score",
    "marketing_status",
    "sales_status",
    "product_status",
    "finance_status",
    "operations_status",
)


def _apply(customer: Customer, data: dict[str, Any]) -> list[str]:
    changed = []
    for name in WRITABLE_FIELDS:
        if name in data and getattr(customer, name) != data[name]:
            setattr(customer, name, data[name])
            changed.append(name)
    # A score given without a risk level puts the customer in the band of that score.
    if "health_score" in data and "risk_level" not in data:
        risk = risk_level_for_score(customer.health_score)
        if risk != customer.risk_level:
            customer.risk_level = risk
            changed.append("risk_level")
    return changed


@transaction.atomic
def customer_create(*, data: dict[str, Any], customer_id: str | None = None) -> Customer:
    customer = Customer(customer_id=customer_id or new_customer_id())
    _apply(customer, data)
    customer.save(force_insert=True)
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, data: dict[str, Any]) -> Customer:
    changed = _apply(customer, data)
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])
    return customer


@transaction.atomic
def customer_delete(*, customer: Customer) -> None:
    customer.delete()


@dataclass
class BulkRecordResult:
    index: int
    status: str  # created | updated | error
    customer_id: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"index": self.index, "customer_id": self.customer_id, "status": self.status}
        if self.errors:
            result["errors"] = self.errors
        return result


@transaction.atomic
def customer_bulk_upsert(
    *, creates: Iterable[tuple[str, dict[str, Any]]], updates: Iterable[tuple[Customer, dict[str, Any]]]
) -> tuple[list[Customer], list[Customer]]:
    """Insert and update validated records in a constant number of queries per batch."""
    new_customers = []
    for customer_id, data in creates:
        customer = Customer(customer_id=customer_id)
        _apply(customer, data)
        new_customers.append(customer)
    Customer.objects.bulk_create(new_customers, batch_size=500)

    changed_customers, changed_fields = [], set()
    for customer, data in updates:
        changed = _apply(customer, data)
        if changed:
            changed_customers.append(customer)
            changed_fields.update(changed)
    if changed_customers:
        from django.utils import timezone

        now = timezone.now()
        for customer in changed_customers:
            customer.updated_at = now
        Customer.objects.bulk_update(
            changed_customers, [*sorted(changed_fields), "updated_at"], batch_size=500
        )
    return new_customers, changed_customers
