"""How the contracts are written as JSON Schema, for `contracts.generate` and
`contracts.asyncapi` alike.

What the server sends is described in serialization mode with every field required (pydantic
writes them all), so client code need not test for absent ones. What a client sends is
described in validation mode, where a field with a default may be left out; but the `type`
discriminator is always required, or TypeScript could not narrow the unions on it.
"""

from typing import Any

from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema


class ContractJsonSchema(GenerateJsonSchema):
    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        # Also for models without `json_schema_serialization_defaults_required` (JobList,
        # Usage ...): what the server writes always has the field.
        return self.mode == "serialization" or super().field_is_required(field, total)


_TYPE_KEYWORDS = {"type", "$ref", "anyOf", "oneOf", "allOf", "enum", "const"}


def tidy(definition: dict[str, Any], *, typescript: bool = True) -> None:
    """Drops field titles (json2ts would name types after them) and requires discriminators;
    for json2ts (`typescript`), marks `Any` fields `unknown`."""
    properties: dict[str, dict[str, Any]] = definition.get("properties", {})
    required = set(definition.get("required", ()))
    for name, field in properties.items():
        field.pop("title", None)
        if typescript and not _TYPE_KEYWORDS & field.keys():
            # An `Any` field: json2ts reads a schema with a default but no type as an object.
            field["tsType"] = "unknown"
        if "const" in field:
            required.add(name)
    if properties:
        definition["required"] = [name for name in properties if name in required]
