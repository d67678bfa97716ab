"""Customer representations: the seed's shape, plus name, segment, ARR, success manager, created_at."""

from django.core.validators import RegexValidator
from rest_framework import serializers

from ..models import (
    FinanceStatus,
    HealthTrend,
    LifecycleStage,
    MarketingStatus,
    OperationsStatus,
    ProductStatus,
    RiskLevel,
    SalesStatus,
    Segment,
)

MAX_BULK_RECORDS = 1000

customer_id_validator = RegexValidator(
    r"^cust_[A-Za-z0-9_-]{1,59}$", "A customer id is 'cust_' followed by letters, digits, '_' or '-'."
)


class SuccessMetricsSerializer(serializers.Serializer):
    adoption_rate = serializers.FloatField(
        min_value=0, max_value=1, allow_null=True, required=False, help_text="0 to 1"
    )
    engagement_score = serializers.FloatField(
        min_value=0, max_value=10, allow_null=True, required=False, help_text="0 to 10"
    )
    nps_score = serializers.IntegerField(min_value=-100, max_value=100, allow_null=True, required=False)


class IntegrationStatusSerializer(serializers.Serializer):
    marketing = serializers.ChoiceField(
        choices=MarketingStatus.choices, source="marketing_status", required=False
    )
    sales = serializers.ChoiceField(choices=SalesStatus.choices, source="sales_status", required=False)
    product = serializers.ChoiceField(choices=ProductStatus.choices, source="product_status", required=False)
    finance = serializers.ChoiceField(choices=FinanceStatus.choices, source="finance_status", required=False)
    operations = serializers.ChoiceField(
        choices=OperationsStatus.choices, source="operations_status", required=False
    )


class CustomerSerializer(serializers.Serializer):
    """A customer. On create, ``customer_id`` may be given (``cust_…``); otherwise one is generated."""

    customer_id = serializers.CharField(required=False, max_length=64, validators=[customer_id_validator])
    name = serializers.CharField(max_length=200)
    segment = serializers.ChoiceField(choices=Segment.choices, required=False)
    arr = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, help_text="Annual recurring revenue"
    )
    success_manager = serializers.EmailField(required=False, allow_blank=True)
    health_score = serializers.IntegerField(min_value=0, max_value=100, required=False)
    health_trend = serializers.ChoiceField(choices=HealthTrend.choices, required=False)
    risk_level = serializers.ChoiceField(
        choices=RiskLevel.choices, required=False, help_text="Derived from health_score when omitted"
    )
    lifecycle_stage = serializers.ChoiceField(choices=LifecycleStage.choices, required=False)
    success_metrics = SuccessMetricsSerializer(source="*", required=False)
    integration_status = IntegrationStatusSerializer(source="*", required=False)
    created_at = serializers.DateTimeField(read_only=True)
    last_updated = serializers.DateTimeField(source="updated_at", read_only=True)

    def validate_customer_id(self, value: str) -> str:
        if self.instance is not None and value != self.instance.customer_id:
            raise serializers.ValidationError("The customer id cannot be changed.", code="immutable")
        return value


class CustomerBulkRequestSerializer(serializers.Serializer):
    customers = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=MAX_BULK_RECORDS,
        help_text=f"Up to {MAX_BULK_RECORDS} customers as for POST; an existing customer_id is updated",
    )


class CustomerBulkRequestDocSerializer(serializers.Serializer):
    """The documented shape of the bulk body (records are validated one by one at run time)."""

    customers = CustomerSerializer(many=True, min_length=1, max_length=MAX_BULK_RECORDS)


class BulkErrorSerializer(serializers.Serializer):
    field = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class BulkResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    customer_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["created", "updated", "error"])
    errors = BulkErrorSerializer(many=True, required=False)


class CustomerBulkResponseSerializer(serializers.Serializer):
    results = BulkResultSerializer(many=True)
