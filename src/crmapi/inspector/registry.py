"""The inspector's pages, in navigation order: one line per page module."""

from crmapi.inspector import render
from crmapi.inspector.pages import clock, events, journal, leads, organization, webhooks
from crmapi.inspector.web import Page

PAGES: tuple[Page, ...] = (
    leads.PAGE,
    events.PAGE,
    webhooks.PAGE,
    journal.PAGE,
    clock.PAGE,
    organization.PAGE,
)
render.NAVIGATION[:] = PAGES  # every page's navigation bar lists them
