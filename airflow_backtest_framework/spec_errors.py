"""Plain messages per field from a SweepConfig ValidationError, for forms, logs and command lines."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticCustomError


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Map a SweepConfig ValidationError to {field: message}; parameters as `params.<name>`."""
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        ctx = error.get("ctx") or {}
        loc = ".".join(str(part) for part in error["loc"])
        if isinstance(ctx.get("fields"), dict):
            for name, message in ctx["fields"].items():
                errors.setdefault(f"params.{name}", message)
            continue
        field = ctx.get("field") or loc or "spec"
        errors.setdefault(field, _plain_message(error))
    return errors


_PYDANTIC_MESSAGES = {
    "missing": "required",
    "date_from_datetime_parsing": "use a date like 2024-01-31",
    "date_parsing": "use a date like 2024-01-31",
    "date_type": "use a date like 2024-01-31",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be a whole number",
    "int_parsing_size": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_type": "must be a whole number",
    "string_type": "must be text",
    "list_type": "must be a list",
    "dict_type": "must be a mapping of parameter to grid expression",
    "extra_forbidden": "is not a field of a sweep",
}


def _plain_message(error: Mapping[str, Any]) -> str:
    return _PYDANTIC_MESSAGES.get(error["type"], str(error["msg"]).removeprefix("Value error, "))


def describe_validation_error(exc: ValidationError) -> str:
    """One line per field, for logs and command-line tools."""
    return "; ".join(f"{field}: {message}" for field, message in field_errors(exc).items())


def custom_error(kind: str, message: str, **ctx: Any) -> PydanticCustomError:
    """A field's error with `message` as is (braces in user text escaped from pydantic's formatting)."""
    return PydanticCustomError(kind, message.replace("{", "{{").replace("}", "}}"), ctx or None)


def too_long(limit: int, length: int, unit: str = "characters") -> str:
    return f"at most {limit:,} {unit} (got {length:,})"


def checked(check: Callable[[Any], Any], field: str, value: Any) -> Any:
    """Run a field check (execution_spec, data_source_spec); its ValueError becomes this field's error."""
    try:
        return check(value)
    except ValueError as exc:
        raise custom_error(field, str(exc)) from None
