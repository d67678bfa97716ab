"""Reads of customers shared by the API and the admin."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import Customer


def customer_list() -> QuerySet[Customer]:
    return Customer.objects.all()


def customer_get(*, customer_id: str) -> Customer:
    return get_object_or_404(Customer, customer_id=customer_id)


def customers_by_id(*, customer_ids: list[str]) -> dict[str, Customer]:
    return Customer.objects.in_bulk(customer_ids)
