"""OpenAPI schema generation shared by every API module."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    """Names nested serializers after their view.

    The house style nests ``InputSerializer`` / ``OutputSerializer`` inside each view, so the bare
    class names collide across endpoints; ``VideoListApi.OutputSerializer`` becomes ``VideoListOutput``.
    """

    def get_serializer_name(self, serializer, direction) -> str:
        name = serializer.__class__.__name__
        qualname = serializer.__class__.__qualname__
        if "." in qualname:
            owner = qualname.split(".")[-2]
            owner = owner.removesuffix("Api").removesuffix("View")
            return f"{owner}{name.removesuffix('Serializer')}"
        return name

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        # Paginated lists answer 404 for a page that does not exist (``page=0``, past the end).
        parameters = operation.get("parameters", []) if operation else []
        if any(p.get("in") == "query" and p.get("name") == "page" for p in parameters):
            operation["responses"].setdefault("404", {
                "description": "no such page",
                "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"],
                }}},
            })
        return operation
