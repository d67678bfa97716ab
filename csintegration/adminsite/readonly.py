"""Admin mixins for the back-office pages that show records the platform writes itself."""


class ViewOnlyAdminMixin:
    """Rows are listed and shown, never added or edited by hand (they may still be deleted)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdminMixin(ViewOnlyAdminMixin):
    """A record kept as it was written: no add, change or delete from the admin."""

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
