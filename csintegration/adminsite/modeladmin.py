"""The base classes of every back-office page: unfold's ModelAdmin and inlines, with the platform's
defaults. Apps subclass these instead of ``django.contrib.admin``'s, so each page has the theme."""

from unfold.admin import ModelAdmin, StackedInline, TabularInline
from unfold.decorators import action, display
from unfold.forms import ActionForm

__all__ = ["ActionForm", "PlatformModelAdmin", "StackedInline", "TabularInline", "action", "display"]


class PlatformModelAdmin(ModelAdmin):
    list_per_page = 50
    # Filters open in a side sheet and apply at once; long lists keep their header in view.
    list_filter_sheet = True
    list_horizontal_scrollbar_top = True
    warn_unsaved_form = True
