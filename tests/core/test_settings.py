from __future__ import annotations

import pytest

from acquire.errors import ConfigurationError
from acquire.settings import Settings


def test_defaults_follow_the_original_design() -> None:
    s = Settings.from_env({})
    assert s.redis_url == "redis://localhost:6379/0"
    assert s.worker_concurrency == 10
    assert (s.sec_topic, s.yahoo_topic) == ("data.sec", "data.yahoo")
    assert s.metrics_port == 8000 and s.logging_level == "INFO"
    assert s.acquire_result_ttl == 3600
    assert (s.acquire_analysis_timeout, s.acquire_analysis_soft_timeout) == (600, 540)


def test_environment_values_are_parsed() -> None:
    s = Settings.from_env(
        {
            "WORKER_CONCURRENCY": "4",
            "REDIS_URL": "unix:///tmp/r.sock",
            "ACQUIRE_LOG_JSON": "true",
            "PATH": "/bin",
        }
    )
    assert s.worker_concurrency == 4 and s.redis_url == "unix:///tmp/r.sock" and s.acquire_log_json


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WORKER_CONCURRENCY": "ten"}, "WORKER_CONCURRENCY"),
        ({"WORKER_CONCURRENCY": "0"}, "greater than or equal to 1"),
        ({"METRICS_PORT": "70000"}, "METRICS_PORT"),
        ({"LOGGING_LEVEL": "LOUD"}, "LOGGING_LEVEL"),
        ({"REDIS_URL": "localhost:6379"}, "redis://"),
        ({"SEC_MAX_RPS": "40"}, "SEC_MAX_RPS"),
        ({"WORKER_CONCURENCY": "4"}, "did you mean WORKER_CONCURRENCY"),
        ({"SEC_USERAGENT": "x"}, "did you mean SEC_USER_AGENT"),
        ({"WEBHOOK_ALLOW_HOSTS": "10.0.0.0/33"}, "WEBHOOK_ALLOW_HOSTS"),
    ],
)
def test_bad_settings_are_clear_startup_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(env)


def test_webhook_secret_is_not_shown_in_repr() -> None:
    s = Settings.from_env({"WEBHOOK_SECRET": "whsec_c2VjcmV0"})
    assert "c2VjcmV0" not in repr(s) and "c2VjcmV0" not in str(s.model_dump())
