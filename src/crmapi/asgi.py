"""Factory for uvicorn (``crmapi.asgi:create``), used when serving with several workers."""

from starlette.applications import Starlette

from crmapi.app import create_app


def create() -> Starlette:
    return create_app(migrate_schema=False)
