"""The emulator plane under ``/_crmapi/``: what a test double offers beyond Close's own API.

It never touches ``/api/v1/``. Organization-scoped operations (``/_crmapi/orgs/{org}/...``)
accept that organization's own API key; global ones need ``CRMAPI_ADMIN_TOKEN``. The whole
plane is absent with ``CRMAPI_MODE=production``.
"""
