"""Internal upstream URLs and hosts become public ones in tenant-visible values."""

from __future__ import annotations

from acquire.runtime.redaction import UpstreamRedactor
from acquire.settings import Settings

MIRROR = Settings(
    sec_www_base_url="http://10.1.2.3:8080/sec", sec_data_base_url="http://sec-data.internal",
    yahoo_base_url="http://10.1.2.3:8080/yahoo",
)  # fmt: skip


def test_public_upstreams_need_no_redaction() -> None:
    redact = UpstreamRedactor.from_settings(Settings())
    assert not redact.active
    value = {"error": "SEC has no https://www.sec.gov/x"}
    assert redact.tree(value) is value


def test_internal_urls_and_hosts_become_public() -> None:
    redact = UpstreamRedactor.from_settings(MIRROR)
    assert redact.active
    assert redact.text("SEC has no http://10.1.2.3:8080/sec/Archives/a.htm") == (
        "SEC has no https://www.sec.gov/Archives/a.htm"
    )
    assert redact.text("HTTP 503 from sec-data.internal") == "HTTP 503 from data.sec.gov"
    # One mirror host serving two upstreams could be either: it is named neutrally.
    assert redact.text("ConnectError to 10.1.2.3:8080 (10.1.2.3)") == "ConnectError to upstream (upstream)"
    tree = {"filings": [{"document_url": "http://10.1.2.3:8080/sec/Archives/b.htm", "size": 3}]}
    public = "https://www.sec.gov/Archives/b.htm"
    assert redact.tree(tree) == {"filings": [{"document_url": public, "size": 3}]}
    assert redact.error(("NotFoundError", "no http://sec-data.internal/x")) == (
        "NotFoundError", "no https://data.sec.gov/x",
    )  # fmt: skip
