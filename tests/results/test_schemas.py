"""The published JSON Schemas: printed by ``acquire schema``, served at ``GET /schema``, and
real stored results and events validate against them."""

from __future__ import annotations

import json

import jsonschema

from acquire.models import JobKind
from acquire.results import XbrlFactsResult
from acquire.results.schemas import all_schemas, kind_schemas
from tests.cli.test_main import run_cli
from tests.results.test_stored_results import UNTYPED_SEC, UNTYPED_XBRL
from tests.support.jobs import sec_result


def test_cli_prints_every_schema_and_one_kinds() -> None:
    every = run_cli("schema")
    assert every.returncode == 0, every.stderr
    assert json.loads(every.stdout) == all_schemas()
    assert set(all_schemas()["kinds"]) == {kind.value for kind in JobKind}
    one = run_cli("schema", "xbrl_facts")
    assert json.loads(one.stdout) == kind_schemas(JobKind.XBRL_FACTS)
    assert run_cli("schema", "nope").returncode != 0


def test_results_and_requests_validate_against_their_schemas() -> None:
    sec = kind_schemas(JobKind.SEC_FILINGS)
    jsonschema.validate(sec_result("NVDA", "MISS").model_dump(mode="json"), sec["result"])
    jsonschema.validate({"kind": "sec_filings", "companies": ["NVDA"], "years": [2024]}, sec["request"])
    # what 0.1.0 stored fits the schema too (no kind or version: they have defaults)
    jsonschema.validate(UNTYPED_SEC, sec["result"])
    # a misspelled field does not
    bad = {"companies": [{"company": "NVDA", "state": "completed", "filingz": []}]}
    assert not jsonschema.Draft202012Validator(sec["result"]).is_valid(bad)
    xbrl = XbrlFactsResult.model_validate(UNTYPED_XBRL).model_dump(mode="json")
    jsonschema.validate(xbrl, kind_schemas(JobKind.XBRL_FACTS)["result"])
