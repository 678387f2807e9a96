"""One module per inspector page, each exporting ``PAGE`` (see ``crmapi.inspector.web``)."""
