"""Query parameters: an operation answers 400 for any parameter it does not declare, as Stripe does,
instead of silently ignoring a misspelt filter (``?riskLevel=high``) and returning the unfiltered list.

What a view declares: on a list, its filter set's filters, its ordering parameter (when it has
``ordering_fields``), its search parameter (``search_fields``) and its paginator's parameters
(``cursor``, ``page_size``); on any operation, the names in ``query_parameters`` (a view attribute, or
an ``@action(..., query_parameters=(…))`` argument). A value holding NUL is refused too, since
PostgreSQL cannot compare text with it.

A bounded integer parameter (``?window_days=30``) is declared once as a :class:`BoundedInteger`, which
both reads it and documents it, so the OpenAPI bounds are the ones the view enforces.
"""

import re
from dataclasses import dataclass

from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.mixins import ListModelMixin


def _filter_names(filterset_class) -> set[str]:
    names = set()
    for name, query_filter in filterset_class.base_filters.items():
        # Range filters read one parameter per suffix of their widget (``price_min``, ``price_max``).
        suffixes = getattr(getattr(query_filter.field_class, "widget", None), "suffixes", None)
        if suffixes:
            names.update(f"{name}_{suffix}" if suffix else name for suffix in suffixes)
        else:
            names.add(name)
    return names


def _is_list(view) -> bool:
    """A viewset's list action, or a plain list view (``generics.ListAPIView``) answering a GET."""
    action = getattr(view, "action", None)
    if action is not None:
        return action == "list"
    request = getattr(view, "request", None)
    return isinstance(view, ListModelMixin) and getattr(request, "method", "") in ("GET", "HEAD")


def declared_query_parameters(view) -> set[str]:
    declared = set(getattr(view, "query_parameters", ()) or ())
    if not _is_list(view):
        return declared
    for backend in getattr(view, "filter_backends", ()) or ():
        if issubclass(backend, OrderingFilter):
            if getattr(view, "ordering_fields", None):
                declared.add(backend.ordering_param)
        elif issubclass(backend, SearchFilter):
            if getattr(view, "search_fields", None):
                declared.add(backend.search_param)
        elif getattr(view, "filterset_class", None) is not None:
            declared |= _filter_names(view.filterset_class)
        elif getattr(view, "filterset_fields", None):
            declared |= set(view.filterset_fields)
    paginator = getattr(view, "paginator", None)
    if paginator is not None:
        for attribute in dir(paginator):
            if attribute.endswith("_query_param") and isinstance(getattr(paginator, attribute), str):
                declared.add(getattr(paginator, attribute))
    return declared


def check_query_parameters(request, view) -> None:
    """Raise a 400 naming every undeclared parameter, and every value holding NUL."""
    declared = declared_query_parameters(view)
    errors: dict[str, list[str]] = {}
    for name in request.query_params:
        if name not in declared:
            takes = ", ".join(sorted(declared)) or "none"
            errors[name] = [f"Unknown query parameter; this operation takes: {takes}."]
        elif any("\x00" in value for value in request.query_params.getlist(name)):
            errors[name] = ["This value contains the NUL character, which is not allowed."]
    if errors:
        raise ValidationError(errors, code="unknown_parameter")


class StrictQueryParametersMixin:
    """Mixed into every platform view (``views.py``): runs after authentication, permissions and
    quotas, before an ``Idempotency-Key`` is claimed."""

    query_parameters: tuple[str, ...] = ()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # A method the view does not take is a 405, whatever its query string.
        if getattr(self, request.method.lower(), None) is not None:
            check_query_parameters(request, self)


_DIGITS = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class BoundedInteger:
    """An integer query parameter from ``minimum`` to ``maximum`` (both included): ``read()`` answers a
    value outside them, or anything but ASCII digits, with a 400 naming the parameter; ``parameter()``
    is its OpenAPI description with the same bounds."""

    name: str
    minimum: int
    maximum: int
    default: int | None = None
    description: str = ""

    def _bounds(self) -> str:
        return f"An integer from {self.minimum} to {self.maximum}"

    def parameter(self) -> OpenApiParameter:
        default = "" if self.default is None else f" (default {self.default})"
        return OpenApiParameter(
            self.name,
            {"type": "integer", "minimum": self.minimum, "maximum": self.maximum},
            OpenApiParameter.QUERY,
            description=f"{self.description}: {self._bounds().lower()}{default}".lstrip(": "),
        )

    def read(self, request) -> int | None:
        raw = request.query_params.get(self.name)
        if raw is None:
            return self.default
        if not _DIGITS.fullmatch(raw) or not self.minimum <= int(raw) <= self.maximum:
            raise ValidationError({self.name: [f"{self._bounds()}."]}, code="invalid")
        return int(raw)
