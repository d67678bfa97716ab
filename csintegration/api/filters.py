"""Filter machinery shared by every list: filter sets and ordering that answer a bad value with a 400."""

import re

import django_filters
from django import forms
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter


class StrictFilterSet(django_filters.FilterSet):
    """A FilterSet that also refuses a parameter given with an empty value (``?risk_level=``)."""

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name in self.filters:
            if name in self.data and any(value == "" for value in self.data.getlist(name)):
                self.form.add_error(
                    name, forms.ValidationError("This parameter may not be blank.", code="blank")
                )
                valid = False
        return valid


class StrictOrderingFilter(OrderingFilter):
    """``ordering=-arr,name``: exactly the documented fields, each once optionally prefixed with '-';
    anything else (a blank value, an unknown field, ``--arr``, spaces) is a 400."""

    @staticmethod
    def _pattern(fields: list[str]) -> str:
        one = f"-?({'|'.join(re.escape(field) for field in fields)})"
        return f"^{one}(,{one})*$"

    def _fields(self, queryset, view, request=None) -> list[str]:
        return sorted(name for name, _ in self.get_valid_fields(queryset, view, {"request": request}))

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        fields = [field for field in getattr(view, "ordering_fields", None) or () if isinstance(field, str)]
        if fields:
            for parameter in parameters:
                parameter["schema"] = {"type": "string", "pattern": self._pattern(fields)}
                parameter["description"] = (
                    "Comma-separated fields, each optionally prefixed with '-' for descending: "
                    f"{', '.join(fields)}"
                )
        return parameters

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if params is not None:
            fields = self._fields(queryset, view, request)
            if not fields or not re.fullmatch(self._pattern(fields), params):
                raise ValidationError(
                    {
                        self.ordering_param: [
                            f"Cannot order by {params!r}; use comma-separated fields among "
                            f"{', '.join(fields)}, each optionally prefixed with '-'."
                        ]
                    }
                )
        return super().get_ordering(request, queryset, view)


class IntegerFilter(django_filters.NumberFilter):
    """A number filter that accepts whole numbers only, as the schema documents it."""

    field_class = forms.IntegerField


class _StrictBooleanField(forms.Field):
    def to_python(self, value):
        if value in (None, ""):
            return None
        if value in ("true", "false"):
            return value == "true"
        raise forms.ValidationError("Use true or false.", code="invalid")


class BooleanFilter(django_filters.BooleanFilter):
    """``true`` or ``false``; anything else (``null``, ``1``, ``yes``) is a 400 rather than ignored."""

    field_class = _StrictBooleanField
