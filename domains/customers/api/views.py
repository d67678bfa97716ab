"""Customer endpoints under ``/api/v1/cs-integration/customers``."""

from django.db import IntegrityError
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from csintegration.api.exceptions import Problem, flatten_errors
from csintegration.api.views import PlatformModelViewSet

from .. import selectors, services
from ..filters import CustomerFilter
from ..models import new_customer_id
from .serializers import (
    CustomerBulkRequestDocSerializer,
    CustomerBulkRequestSerializer,
    CustomerBulkResponseSerializer,
    CustomerSerializer,
)

TAG = "cs-integration"


@extend_schema_view(
    list=extend_schema(
        tags=[TAG], summary="List customers", description="Filtered, ordered, cursor-paginated."
    ),
    retrieve=extend_schema(tags=[TAG], summary="Get a customer"),
    create=extend_schema(tags=[TAG], summary="Create a customer"),
    update=extend_schema(tags=[TAG], summary="Replace a customer"),
    partial_update=extend_schema(tags=[TAG], summary="Update some fields of a customer"),
    destroy=extend_schema(tags=[TAG], summary="Delete a customer"),
)
class CustomerViewSet(PlatformModelViewSet):
    scope_area = "customers"
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    ordering_fields = ("created_at", "updated_at", "health_score", "name", "arr")
    lookup_field = "customer_id"
    lookup_value_regex = r"cust_[A-Za-z0-9_-]+"
    signature_required_actions = ("destroy", "bulk")

    def get_queryset(self):
        return selectors.customer_list()

    def get_object(self):
        return selectors.customer_get(customer_id=self.kwargs["customer_id"])

    def perform_create(self, serializer):
        customer_id = serializer.validated_data.pop("customer_id", None)
        try:
            serializer.instance = services.customer_create(
                data=serializer.validated_data, customer_id=customer_id
            )
        except IntegrityError:
            raise Problem(409, "customer-exists", f"Customer {customer_id} already exists.") from None

    def create(self, request, *args, **kwargs):
        response = super().create(request, *args, **kwargs)
        response["Location"] = request.build_absolute_uri(
            f"{request.path.rstrip('/')}/{response.data['customer_id']}"
        )
        return response

    def perform_update(self, serializer):
        serializer.validated_data.pop("customer_id", None)
        serializer.instance = services.customer_update(
            customer=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.customer_delete(customer=instance)

    @extend_schema(
        tags=[TAG],
        summary="Create or update up to 1000 customers",
        request=CustomerBulkRequestDocSerializer,
        responses={
            200: OpenApiResponse(CustomerBulkResponseSerializer, description="Every record succeeded"),
            207: OpenApiResponse(
                CustomerBulkResponseSerializer, description="Some records failed; the rest were kept"
            ),
        },
    )
    @action(detail=False, methods=["post"], url_path="bulk", rate_limit_category="bulk")
    def bulk(self, request):
        payload = CustomerBulkRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        records = payload.validated_data["customers"]

        given_ids = [
            record.get("customer_id") for record in records if isinstance(record.get("customer_id"), str)
        ]
        existing = selectors.customers_by_id(customer_ids=given_ids)
        creates, updates, results, seen = [], [], [], set()
        for index, record in enumerate(records):
            customer_id = record.get("customer_id")
            instance = existing.get(customer_id) if isinstance(customer_id, str) else None
            serializer = CustomerSerializer(instance=instance, data=record, partial=instance is not None)
            if not serializer.is_valid():
                results.append(
                    services.BulkRecordResult(
                        index,
                        "error",
                        customer_id if isinstance(customer_id, str) else None,
                        flatten_errors(
                            serializer.errors and ValidationError(serializer.errors).get_full_details()
                        ),
                    )
                )
                continue
            data = dict(serializer.validated_data)
            customer_id = data.pop("customer_id", None) or new_customer_id()
            if customer_id in seen:
                results.append(
                    services.BulkRecordResult(
                        index,
                        "error",
                        customer_id,
                        [
                            {
                                "field": "customer_id",
                                "code": "duplicate",
                                "message": "This id appears twice in the batch.",
                            }
                        ],
                    )
                )
                continue
            seen.add(customer_id)
            if instance is not None:
                updates.append((instance, data))
                results.append(services.BulkRecordResult(index, "updated", customer_id))
            else:
                creates.append((customer_id, data))
                results.append(services.BulkRecordResult(index, "created", customer_id))

        services.customer_bulk_upsert(creates=creates, updates=updates)
        failed = any(result.status == "error" for result in results)
        return Response(
            {"results": [result.as_dict() for result in results]},
            status=status.HTTP_207_MULTI_STATUS if failed else status.HTTP_200_OK,
        )
