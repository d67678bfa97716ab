"""Filter machinery shared by every list: filter sets and ordering that answer a bad value with a 400."""

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
    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if params is not None:
            fields = [param.strip() for param in params.split(",")]
            valid = {name for name, _ in self.get_valid_fields(queryset, view, {"request": request})}
            invalid = [field or "''" for field in fields if field.lstrip("-") not in valid]
            if invalid:
                allowed = ", ".join(sorted(valid))
                raise ValidationError(
                    {self.ordering_param: [f"Cannot order by {', '.join(invalid)}; use one of {allowed}."]}
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
