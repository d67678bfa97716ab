"""OpenAPI generation: the OAuth2 scheme with each operation's scope, the problem+json error responses,
and the ``Idempotency-Key`` header on every POST."""

import re

from django.conf import settings
from django.core.validators import RegexValidator
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from .datetimes import relative_to_now_schema
from .exceptions import PROBLEM_CONTENT_TYPE
from .idempotency import KEY_PATTERN, MAX_KEY_LENGTH
from .permissions import required_scope_for
from .updates import create_only_field_names, requires_some_field


class ProblemSerializer(serializers.Serializer):
    """An RFC 9457 problem document."""

    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField(allow_null=True)
    request_id = serializers.CharField(allow_null=True)


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(
        help_text="Dotted path of the offending field, e.g. handoff_data.deal_value"
    )
    code = serializers.CharField()
    message = serializers.CharField()


class ValidationProblemSerializer(ProblemSerializer):
    errors = FieldErrorSerializer(many=True, required=False)


def _problem(description: str, serializer=ProblemSerializer) -> OpenApiResponse:
    return OpenApiResponse(response=serializer, description=description)


class PlatformAutoSchema(AutoSchema):
    """Adds what every operation of the platform shares to the generated description."""

    def _is_public(self) -> bool:
        return bool(getattr(self.view, "public", False))

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self.method == "POST" and not self._is_public():
            parameters.append(
                OpenApiParameter(
                    "Idempotency-Key",
                    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": KEY_PATTERN},
                    OpenApiParameter.HEADER,
                    required=False,
                    description=(
                        "Makes the POST safe to retry: the same key with the same body within 24 hours "
                        "returns the first response again (header `Idempotent-Replayed: true`); the same "
                        "key with another body is a 422; a retry while the first is running is a 409."
                    ),
                )
            )
        return parameters

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        # What a serializer refuses beyond its fields (no properties at all, unknown names), stated by
        # the serializer itself as ``openapi_schema_extra``.
        if direction == "request" and not getattr(serializer, "allow_unknown_fields", False):
            schema = {**schema, "additionalProperties": False}  # strict_bodies.py refuses them
        extra = getattr(serializer, "openapi_schema_extra", None)
        if extra and direction == "request":
            schema = {**schema, **extra}
        if direction == "request" and requires_some_field(serializer):
            schema = {**schema, "minProperties": 1}
        if direction == "request" and self.method == "PATCH":
            properties = dict(schema.get("properties", {}))
            for name in create_only_field_names(serializer):
                if name in properties:  # may be sent back unchanged, not changed (create_only.py)
                    properties[name] = {**properties[name], "readOnly": True}
            schema = {**schema, "properties": properties} if properties else schema
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        clock = relative_to_now_schema(field) if direction == "request" else {}
        return {**schema, **clock} if clock and isinstance(schema, dict) else schema

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        # A body that must name a field must be there (NonEmptyBodyMixin): no body reads as {}.
        if body is not None and requires_some_field(self.get_request_serializer()):
            body["required"] = True
        return body

    def _is_signed(self) -> bool:
        signed = getattr(self.view, "signature_required_actions", ()) or ()
        return getattr(self.view, "action", None) in signed or self.method in signed

    def get_extensions(self):
        extensions = dict(super().get_extensions() or {})
        if self._is_signed():
            # Machine-readable for clients and test tools: the operation needs an RFC 9421 signature.
            extensions["x-signature-required"] = True
        return extensions

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None:
            # Here rather than in get_description, which an extend_schema(description=…) replaces.
            notes = self._access_notes()
            if notes:
                operation["description"] = "\n\n".join(
                    part for part in (operation.get("description", "").strip(), notes) if part
                )
        return operation

    def _access_notes(self) -> str:
        notes = []
        scope = None if self._is_public() else required_scope_for(self.view, self.method)
        if scope:
            notes.append(f"Requires scope `{scope}`.")
        if self._is_signed():
            notes.append(
                "This is a high-value operation: the request must carry an HTTP Message Signature "
                "(RFC 9421) with `Content-Digest`, keyed by the client's signing secret."
            )
        return "\n\n".join(notes)

    def _error_responses(self) -> dict[str, OpenApiResponse]:
        errors: dict[str, OpenApiResponse] = {
            "400": _problem("Invalid request, parameters or body", ValidationProblemSerializer),
        }
        if not self._is_public():
            errors["401"] = _problem("Missing, invalid, expired or revoked access token")
            errors["403"] = _problem(
                "The token lacks the operation's scope, or the client address is refused"
            )
            errors["429"] = _problem("Over the client's quota for this category")
        if "{" in self.path:
            errors["404"] = _problem("No such resource (or not visible to this client)")
        if self.method in ("POST", "PUT", "PATCH"):
            errors["415"] = _problem("The body is not application/json")
        if self.method == "POST" and not self._is_public():
            errors["409"] = _problem("A request with the same Idempotency-Key is still running")
            errors["422"] = _problem("The Idempotency-Key was used with another body")
        return errors

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        # Errors a view documents itself are problem documents too, whatever media type it named.
        for code, response in responses.items():
            content = response.get("content") if code.isdigit() and int(code) >= 400 else None
            if content and PROBLEM_CONTENT_TYPE not in content:
                response["content"] = {PROBLEM_CONTENT_TYPE: next(iter(content.values()))}
        for code, response in self._error_responses().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    response, code, [PROBLEM_CONTENT_TYPE], direction
                )
        return responses


def json_schema_pattern(python_pattern: str) -> str:
    """A Python regex of a validator as an OpenAPI pattern: ``\\Z`` (the end, no newline before it) is
    ECMA-262's ``$`` without the multiline flag."""
    return python_pattern.replace("\\Z", "$")


class StrictFilterExtension(DjangoFilterExtension):
    """django-filter parameters as the platform's filter sets read them: the bounds of a number filter
    (``min_value``/``max_value``), the length of a text filter, the pattern of its regex validator, the
    choices of a choice filter (also when a callable gives them, e.g. the event type registry), and no
    blank value (StrictFilterSet)."""

    priority = 1

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        parameters = super().resolve_filter_field(
            auto_schema, model, filterset_class, field_name, filter_field
        )
        extra = filter_field.extra
        choices = extra.get("choices")
        if callable(choices):
            choices = choices()
        pattern = next(
            (
                json_schema_pattern(validator.regex.pattern)
                for validator in extra.get("validators", ())
                if isinstance(validator, RegexValidator) and not validator.inverse_match
            ),
            None,
        )
        for parameter in parameters:
            schema = parameter["schema"]
            target = schema["items"] if schema.get("type") == "array" else schema
            if choices is not None and "enum" not in target:
                target["enum"] = [value for value, _ in choices]
            if pattern and "pattern" not in target:
                target["pattern"] = pattern
            if "min_value" in extra:
                target["minimum"] = extra["min_value"]
            if "max_value" in extra:
                target["maximum"] = extra["max_value"]
            if extra.get("max_length"):
                target["maxLength"] = extra["max_length"]
            if target.get("type") == "string" and not {"enum", "format", "pattern"} & set(target):
                target["minLength"] = 1
        return parameters


class PlatformOAuth2Scheme(OpenApiAuthenticationExtension):
    """Describes django-oauth-toolkit's bearer tokens with the scope each operation requires."""

    target_class = "oauth2_provider.contrib.rest_framework.OAuth2Authentication"
    name = "oauth2"
    priority = 10
    match_subclasses = True

    def get_security_requirement(self, auto_schema):
        if getattr(auto_schema.view, "public", False):
            return []
        scope = required_scope_for(auto_schema.view, auto_schema.method)
        return {self.name: [scope] if scope else []}

    def get_security_definition(self, auto_schema):
        scopes = dict(settings.API_SCOPES)
        return {
            "type": "oauth2",
            "flows": {
                "clientCredentials": {"tokenUrl": "/o/token/", "scopes": scopes},
                "authorizationCode": {
                    "authorizationUrl": "/o/authorize/",
                    "tokenUrl": "/o/token/",
                    "refreshUrl": "/o/token/",
                    "scopes": scopes,
                },
            },
        }


#: no string the API reads may hold NUL (parsers.py, query.py): PostgreSQL's text cannot
NO_NUL_PATTERN = "^[^\\u0000]*$"
_HTTP_METHODS = ("get", "put", "patch", "delete", "post")


def _strings_without_nul(node) -> None:
    """Every free-form string schema says that NUL is refused (formats and patterns already say more)."""
    if isinstance(node, dict):
        if node.get("type") == "string" and not {"enum", "format", "pattern"} & set(node):
            node["pattern"] = NO_NUL_PATTERN
        if node.get("type") == "object":  # nor may a key of a JSON object
            node.setdefault("propertyNames", {"pattern": NO_NUL_PATTERN})
        for value in node.values():
            _strings_without_nul(value)
    elif isinstance(node, list):
        for value in node:
            _strings_without_nul(value)


def _no_choice_with_any_value(node) -> None:
    """``oneOf: [{}, {"type": "null"}]`` (a nullable JSON field, as drf-spectacular writes it for OpenAPI
    3.1) matches null twice, which ``oneOf`` forbids: with a member that admits anything, the choice
    admits anything."""
    if isinstance(node, dict):
        for keyword in ("oneOf", "anyOf"):
            if any(member == {} for member in node.get(keyword, ())):
                del node[keyword]
        for value in node.values():
            _no_choice_with_any_value(value)
    elif isinstance(node, list):
        for value in node:
            _no_choice_with_any_value(value)


_PATH_PARAMETER = re.compile(r"\{([^}]+)\}")


def _component(schema: dict, components: dict) -> dict:
    reference = schema.get("$ref", "") if isinstance(schema, dict) else ""
    if reference.startswith("#/components/schemas/"):
        return components.get(reference.rsplit("/", 1)[1], {})
    return schema if isinstance(schema, dict) else {}


def _link_source(path: str, method: str, operation: dict, components: dict) -> tuple[str, str, dict] | None:
    """What an operation's answer yields for links: (status code, JSON pointer prefix, properties) of
    what a create (POST) made, or of the first item of a list (a GET answering ``results``)."""
    for code in ("201", "200", "202"):
        content = operation.get("responses", {}).get(code, {}).get("content", {})
        schema = _component(content.get("application/json", {}).get("schema", {}), components)
        properties = schema.get("properties", {})
        if method == "post" and properties:
            return code, "", properties
        if method == "get" and "{" not in path.rsplit("/", 1)[-1] and "results" in properties:
            items = _component(properties["results"].get("items", {}), components)
            return (code, "/results/0", items.get("properties", {})) if items.get("properties") else None
    return None


def _request_properties(operation: dict, components: dict) -> set[str]:
    content = operation.get("requestBody", {}).get("content", {})
    return set(
        _component(content.get("application/json", {}).get("schema", {}), components).get("properties", {})
    )


def _link_parameters(source_path: str, prefix: str, properties: dict, target_path: str) -> dict | None:
    """Where each path parameter of ``target_path`` comes from, or None if one comes from nowhere: the
    answer's property of the same name; the source's own path parameter of that name; or, for the
    parameter right below the source's path (``/things/{thing_id}`` under ``/things``), the answer's
    ``id``."""
    own = set(_PATH_PARAMETER.findall(source_path))
    below = target_path.startswith(f"{source_path}/{{")
    first_below = _PATH_PARAMETER.match(target_path[len(source_path) + 1 :]) if below else None
    parameters = {}
    for name in _PATH_PARAMETER.findall(target_path):
        if name in properties:
            parameters[name] = f"$response.body#{prefix}/{name}"
        elif name in own:
            parameters[name] = f"$request.path.{name}"
        elif first_below is not None and name == first_below.group(1) and "id" in properties:
            parameters[name] = f"$response.body#{prefix}/id"
        else:
            return None
    return parameters or None


def _area(path: str) -> str:
    return "/".join(path.split("/")[:4])  # /api/v1/cs-ops


def _link_targets(path: str, method: str, operation: dict, paths: dict, components: dict):
    """(target path, its methods, parameters) that an operation's answer links to:

    - a create (POST) to every operation below its path (``/things/{thing_id}``, ``…/{thing_id}/parts``):
      its read, update and delete;
    - a create to the operations of its area on something else it made, named by a property of its
      answer that the request did not send (``POST …/workflows/{customer_id}`` → ``…/runs/{run_id}``),
      not to delete them;
    - a list (GET answering ``results``) to the read and update of its first item, below its path (a
      list links to no delete: what it shows may be what other work relies on).
    """
    source = _link_source(path, method, operation, components)
    if source is None:
        return
    code, prefix, properties = source
    sent = _request_properties(operation, components) | set(_PATH_PARAMETER.findall(path))
    made = {name: value for name, value in properties.items() if name not in sent}
    for other_path, other_item in paths.items():
        if other_path == path:
            continue
        if other_path.startswith(f"{path}/{{"):
            parameters = _link_parameters(path, prefix, properties, other_path)
            methods = _HTTP_METHODS if method == "post" else ("get", "put", "patch", "post")
        elif method == "post" and _area(other_path) == _area(path):
            parameters = _link_parameters(path, prefix, made, other_path)
            methods = ("get", "put", "patch", "post")
        else:
            continue
        if parameters is not None:
            yield code, other_item, methods, parameters


def _add_links(result: dict) -> None:
    """OpenAPI links (``_link_targets``), so that tools and readers can follow what an answer yields to
    the operations on it; each value comes from the answer, or the source's own path."""
    components = result.get("components", {}).get("schemas", {})
    paths = result["paths"]
    for path, item in paths.items():
        for method in ("post", "get"):
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            for code, other_item, methods, parameters in _link_targets(
                path, method, operation, paths, components
            ):
                links = operation["responses"][code].setdefault("links", {})
                for target_method in methods:
                    target = other_item.get(target_method)
                    if isinstance(target, dict) and "operationId" in target:
                        links[target["operationId"]] = {
                            "operationId": target["operationId"],
                            "parameters": parameters,
                        }


def postprocess_schema(result, generator, request, public):
    """Paths are documented without the tolerated trailing slash; public operations need no token;
    strings say that NUL is refused; creates link to the operations on what they created; the body of
    every registered event type is a component (what webhooks deliver)."""
    from csintegration.events.types import event_types

    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for event_type in event_types():
        schema = event_type.body_schema()
        schema["description"] = (
            f"{schema['description']} Webhook body of `{event_type.name}`; receivers need "
            f"`{event_type.read_scope}`.{' Critical.' if event_type.critical else ''}"
        )
        schema["example"] = event_type.example_body()
        schemas[event_type.schema_component_name] = schema
    result["paths"] = {
        (path.rstrip("/") if path != "/" else path): item for path, item in result.get("paths", {}).items()
    }
    for path_item in result["paths"].values():
        for operation in path_item.values():
            if isinstance(operation, dict) and operation.get("security") == [{}]:
                operation["security"] = []
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):  # request bodies (COMPONENT_SPLIT_REQUEST); answers may echo input
            _strings_without_nul(component)
    for path_item in result["paths"].values():
        for operation in path_item.values():
            if isinstance(operation, dict):
                for parameter in operation.get("parameters", []):
                    _strings_without_nul(parameter.get("schema"))
    _no_choice_with_any_value(result)
    _add_links(result)
    return result


def register_enum_names(names: dict[str, str]) -> None:
    """Name the OpenAPI enums of an app's choices (``{"OpportunityStatusEnum": "app.models.Choices"}``),
    from its ``ready()``, where two apps' fields of the same name would otherwise collide."""
    settings.SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(names)
