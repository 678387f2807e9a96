from tests import factories
from tests.conftest import Api


def test_it_lists_leads_created_through_the_api(api: Api) -> None:
    lead = factories.lead(api, "Wayne Enterprises", contacts=[{"name": "Bruce"}])
    listed = api.ok("GET", "lead/")
    assert [item["id"] for item in listed["data"]] == [lead["id"]]
    assert listed["total_results"] == 1
    feed = api.ok("GET", "activity/", params={"lead_id": lead["id"]})
    assert [a["_type"] for a in feed["data"]] == ["Created"]
