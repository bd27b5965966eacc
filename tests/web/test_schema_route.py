"""``GET /schema``: the JSON Schemas, served; real events of a job fit the event schema."""

from __future__ import annotations

import jsonschema

from acquire.client import AcquireClient
from acquire.events import parse_event
from acquire.models import JobKind
from acquire.results.schemas import all_schemas, kind_schemas
from acquire.settings import Settings
from tests.support.jobs import drain
from tests.support.web import ACME, sec_body

from .conftest import Web


async def test_router_serves_the_schemas_and_real_events_fit(
    web: Web, client: AcquireClient, settings: Settings
) -> None:
    served = await web.http.get(f"{web.url}/schema", headers=ACME)
    assert served.status_code == 200 and served.json() == all_schemas()
    one = await web.http.get(f"{web.url}/schema/risk_drift", headers=ACME)
    assert one.json() == kind_schemas(JobKind.RISK_DRIFT)
    assert (await web.http.get(f"{web.url}/schema/nope", headers=ACME)).status_code == 404
    assert (await web.http.get(f"{web.url}/schema")).status_code == 401
    job_id = (await web.http.post(f"{web.url}/jobs", json=sec_body("NVDA", "MISS"), headers=ACME)).json()[
        "job_id"
    ]
    await drain(settings)
    events = await client.events.range("acme", job_id)
    assert [e.event.value for e in events][-1] == "job_completed"
    for event in events:
        as_json = event.model_dump(mode="json")
        jsonschema.validate(as_json, all_schemas()["event"])
        assert parse_event(as_json) == event
