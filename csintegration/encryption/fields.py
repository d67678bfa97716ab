"""Model fields whose values are stored AES-256-GCM encrypted (see ``keys.py`` for the format).

The database column holds ``enc:v1:<kid>:<base64>``; Python code only ever sees the plaintext. A value
written before its column was encrypted (plain text, no header) still reads back, and the next save
or ``manage.py rotate_encryption_keys`` encrypts it. Encrypted columns cannot be searched: the only
lookup offered is ``isnull``.
"""

from django.db import models

from . import keys

_ALLOWED_LOOKUPS = frozenset({"isnull"})


class EncryptedFieldMixin:
    """Encrypts on the way to the database and decrypts on the way back."""

    encrypted = True

    def from_db_value(self, value, expression, connection):
        if value is None or value == "" or not keys.is_encrypted(value):
            return value
        return keys.decrypt(value)

    def to_python(self, value):
        if isinstance(value, str) and keys.is_encrypted(value):
            return keys.decrypt(value)
        return super().to_python(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return keys.encrypt(str(value))

    def get_lookup(self, lookup_name):
        if lookup_name not in _ALLOWED_LOOKUPS:
            return None
        return super().get_lookup(lookup_name)

    def get_transform(self, lookup_name):
        return None


class EncryptedTextField(EncryptedFieldMixin, models.TextField):
    """A ``TextField`` stored encrypted."""


class EncryptedCharField(EncryptedFieldMixin, models.CharField):
    """A ``CharField`` stored encrypted: ``max_length`` limits the plaintext; the column is ``text``
    because the ciphertext is longer than the value it protects."""

    def db_type(self, connection):
        return models.TextField().db_type(connection)

    def cast_db_type(self, connection):
        return models.TextField().cast_db_type(connection)

    def db_parameters(self, connection):
        parameters = super().db_parameters(connection)
        parameters["type"] = self.db_type(connection)
        return parameters
