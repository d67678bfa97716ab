"""The bulk request/response pattern: ``{"<items>": […]}`` of up to N items, each validated on its own;
the valid ones are written together; 200 when every item succeeded, 207 with per-item results when some
failed. Bulk endpoints are signed (RFC 9421) and counted in the ``bulk`` rate-limit category.

    class UsageBulkView(BulkAPIView):
        scope_area = "product"
        bulk_field, max_items, item_key = "items", 5000, "customer_id"
        item_serializer_class = UsageSerializer

        def perform_bulk(self, items: list[BulkItem]) -> list[BulkItemResult]:
            return services.usage_record_many(items=items)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.fields import empty
from rest_framework.response import Response

from .exceptions import flatten_errors
from .lean import LeanValidator
from .views import PlatformAPIView

ERROR = "error"


@dataclass
class BulkItem:
    """One valid item: its position in the request, its validated data, and what was sent."""

    index: int
    data: dict[str, Any]
    raw: dict[str, Any]


@dataclass
class BulkItemResult:
    index: int
    status: str
    #: the item's id (e.g. its customer_id), when it has one
    key: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)
    #: more fields of the item's result (e.g. its new health score)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status == ERROR

    def as_dict(self, key_name: str) -> dict[str, Any]:
        body: dict[str, Any] = {"index": self.index, key_name: self.key, "status": self.status}
        body.update(self.extra)
        if self.errors:
            body["errors"] = self.errors
        return body


def item_error(index: int, key: str | None, field_name: str, code: str, message: str) -> BulkItemResult:
    return BulkItemResult(index, ERROR, key, [{"field": field_name, "code": code, "message": message}])


class BulkErrorSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="Dotted path within the item")
    code = serializers.CharField()
    message = serializers.CharField()


def bulk_response_serializer(
    name: str, *, key_name: str, statuses: list[str], extra: dict[str, serializers.Field] | None = None
) -> type[serializers.Serializer]:
    """The documented answer ``{"results": [{"index", key_name, "status", …, "errors"?}]}``."""
    result_fields: dict[str, Any] = {
        "index": serializers.IntegerField(help_text="Position of the item in the request"),
        key_name: serializers.CharField(allow_null=True),
        "status": serializers.ChoiceField(choices=[*statuses, ERROR]),
        **(extra or {}),
        "errors": BulkErrorSerializer(many=True, required=False, help_text="Only when status is error"),
    }
    result = type(f"{name}ResultSerializer", (serializers.Serializer,), result_fields)
    return type(f"{name}ResponseSerializer", (serializers.Serializer,), {"results": result(many=True)})


def bulk_request_serializer(
    name: str, *, bulk_field: str, item_serializer: type[serializers.Serializer], max_items: int
) -> type[serializers.Serializer]:
    """The documented request ``{bulk_field: [item, …]}`` (items are validated one by one at run time)."""
    return type(
        f"{name}RequestSerializer",
        (serializers.Serializer,),
        {bulk_field: serializers.ListField(child=item_serializer(), min_length=1, max_length=max_items)},
    )


def bulk_schema(
    *,
    summary: str,
    description: str,
    request: type[serializers.Serializer],
    response: type[serializers.Serializer],
    tags: list[str] | None = None,
):
    """``extend_schema`` of a bulk view (its ``post``)."""
    return extend_schema(
        tags=tags,
        summary=summary,
        description=description,
        request=request,
        responses={
            200: OpenApiResponse(response, description="Every item succeeded"),
            207: OpenApiResponse(response, description="Some items failed; the others were kept"),
        },
    )


_ENVELOPES: dict[tuple[str, int], type[serializers.Serializer]] = {}


class BulkAPIView(PlatformAPIView):
    """Base of every ``…/bulk`` endpoint (see the module's docstring)."""

    rate_limit_category = "bulk"
    signature_required_actions = ("POST",)
    #: the key of the item list in the request body
    bulk_field: ClassVar[str] = "items"
    max_items: ClassVar[int] = 1000
    #: the field that identifies an item, repeated in its result
    item_key: ClassVar[str] = "customer_id"
    item_serializer_class: ClassVar[type[serializers.Serializer] | None] = None

    def get_item_serializer(self, data: Any = empty) -> serializers.Serializer:
        """The serializer of the items. ``post`` builds one and validates every item with it: DRF copies
        a serializer's declared fields into each new instance, which for 1000 items costs more than
        validating them; validation itself (``run_validation``) keeps no state between items, and the valid
        items take the lean path of ``lean.py``, which checks the same rules."""
        return self.item_serializer_class(data=data, context={"request": self.request, "view": self})

    def perform_bulk(self, items: list[BulkItem]) -> list[BulkItemResult]:
        raise NotImplementedError

    def item_key_of(self, raw: Any) -> str | None:
        value = raw.get(self.item_key) if isinstance(raw, dict) else None
        return value if isinstance(value, str) else None

    def _envelope(self, body: Any) -> list[dict[str, Any]]:
        key = (self.bulk_field, self.max_items)
        envelope_class = _ENVELOPES.get(key)
        if envelope_class is None:
            envelope_class = _ENVELOPES[key] = type(
                "BulkEnvelope",
                (serializers.Serializer,),
                {
                    self.bulk_field: serializers.ListField(
                        child=serializers.DictField(), min_length=1, max_length=self.max_items
                    )
                },
            )
        envelope = envelope_class(data=body)
        envelope.is_valid(raise_exception=True)
        return envelope.validated_data[self.bulk_field]

    def post(self, request, *args, **kwargs):
        items = self._envelope(request.data)
        results: dict[int, BulkItemResult] = {}
        valid: list[BulkItem] = []
        validator = LeanValidator(self.get_item_serializer())
        for index, raw in enumerate(items):
            try:
                data = validator.validate(raw)  # what is_valid() does, on a fresh instance
            except ValidationError as exc:
                errors = flatten_errors(ValidationError(exc.detail).get_full_details())
                results[index] = BulkItemResult(index, ERROR, self.item_key_of(raw), errors)
            else:
                valid.append(BulkItem(index=index, data=dict(data), raw=raw))
        if valid:
            for result in self.perform_bulk(valid):
                results[result.index] = result
        ordered = [results[index] for index in sorted(results)]
        failed = any(result.failed for result in ordered)
        return Response(
            {"results": [result.as_dict(self.item_key) for result in ordered]},
            status=status.HTTP_207_MULTI_STATUS if failed else status.HTTP_200_OK,
        )
