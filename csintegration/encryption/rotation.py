"""Re-encryption of every stored value of every encrypted field under the current key."""

from collections.abc import Iterator
from dataclasses import dataclass

from django.apps import apps
from django.db import models, transaction
from django.db.models.functions import Cast

from . import keys
from .fields import EncryptedFieldMixin

BATCH_SIZE = 500


@dataclass
class FieldRotation:
    label: str
    examined: int = 0
    reencrypted: int = 0


def encrypted_fields() -> Iterator[tuple[type[models.Model], list[str]]]:
    """Each concrete model with the names of its encrypted (own, concrete) fields."""
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        names = [
            field.name
            for field in model._meta.concrete_fields
            if isinstance(field, EncryptedFieldMixin) and field.model is model
        ]
        if names:
            yield model, names


def _needs_rotation(stored: str | None, current_kid: str) -> bool:
    if stored is None or stored == "":
        return False
    return keys.key_id_of(stored) != current_kid


def rotate_model(model: type[models.Model], field_names: list[str], batch_size: int = BATCH_SIZE):
    """Re-encrypt, batch by batch, the rows whose values are plaintext or under an older key."""
    current_kid = keys.key_ring().current_kid
    result = FieldRotation(label=f"{model._meta.label}({', '.join(field_names)})")
    manager = model._base_manager
    last_pk = None
    while True:
        # Raw stored values (not decrypted) tell which key each one is under.
        page = manager.order_by("pk")
        if last_pk is not None:
            page = page.filter(pk__gt=last_pk)
        pks = list(page.values_list("pk", flat=True)[:batch_size])
        if not pks:
            return result
        last_pk = pks[-1]
        with transaction.atomic():
            # Lock the batch first so a concurrent save cannot slip in between reading and rewriting.
            list(manager.select_for_update().filter(pk__in=pks).values_list("pk", flat=True))
            stale_pks = []
            for raw in _raw_values(model, field_names, pks):
                result.examined += 1
                if any(_needs_rotation(raw[name], current_kid) for name in field_names):
                    stale_pks.append(raw["pk"])
            if stale_pks:
                objects = list(manager.filter(pk__in=stale_pks))
                # Saving the decrypted values encrypts them again, under the current key.
                manager.bulk_update(objects, field_names)
                result.reencrypted += len(objects)


def _raw_values(model, field_names, pks) -> Iterator[dict]:
    """The values as stored (``enc:v1:…`` or legacy plain text), read through a cast so that the
    encrypted field's decryption does not apply."""
    raw_names = {f"_stored_{name}": Cast(name, output_field=models.TextField()) for name in field_names}
    rows = model._base_manager.filter(pk__in=pks).annotate(**raw_names).values_list("pk", *raw_names)
    for row in rows:
        yield {"pk": row[0], **dict(zip(field_names, row[1:], strict=True))}


def rotate_all(batch_size: int = BATCH_SIZE) -> list[FieldRotation]:
    return [rotate_model(model, names, batch_size) for model, names in encrypted_fields()]
