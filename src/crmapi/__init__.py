"""crmapi: a self-hostable server that speaks the Close CRM REST API (v1)."""

__version__ = "0.1.0"
