"""Gives the admins that other packages register (auth, django-otp, django-axes, django-celery-beat,
django-oauth-toolkit) the theme: each is registered again as a subclass of itself and unfold's
ModelAdmin, its own attributes first, so that its pages look like the rest of the back-office."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm


def theme_registered_admins(site: admin.AdminSite | None = None) -> list[str]:
    """Re-register every ModelAdmin that does not derive from unfold's; returns their model labels."""
    site = site or admin.site
    themed = []
    for model, model_admin in list(site._registry.items()):
        original = type(model_admin)
        if isinstance(model_admin, ModelAdmin):
            continue
        attributes: dict = {"__module__": __name__}
        if issubclass(original, UserAdmin):
            attributes.update(
                form=UserChangeForm, add_form=UserCreationForm, change_password_form=AdminPasswordChangeForm
            )
        themed_class = type(f"Themed{original.__name__}", (original, ModelAdmin), attributes)
        site.unregister(model)
        site.register(model, themed_class)
        themed.append(model._meta.label_lower)
    return themed
