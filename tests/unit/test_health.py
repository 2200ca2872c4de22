"""`/healthz` and `/readyz`: public, plain text, component names and ok/fail only, 503 when one fails."""

from __future__ import annotations

import socket

from tests.fakes import _app, use_fake_services
from tests.support.signin import OffLoopClient


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_healthz_is_ok_and_readyz_names_each_component(tmp_path) -> None:
    use_fake_services(tmp_path)
    client = OffLoopClient(_app[0].server)
    health = client.get("/healthz")
    assert (health.status_code, health.get_data(as_text=True)) == (200, "ok\n")
    assert health.mimetype == "text/plain"
    ready = client.get("/readyz")
    assert (ready.status_code, ready.get_data(as_text=True)) == (200, "database ok\ncache ok\nairflow ok\n")


def test_readyz_is_503_naming_only_the_component_that_fails(tmp_path) -> None:
    services = use_fake_services(tmp_path)
    services.connections.failing["airflow_api"] = "connection refused at http://admin:pw@127.0.0.1:8080"
    ready = OffLoopClient(_app[0].server).get("/readyz")
    assert (ready.status_code, ready.get_data(as_text=True)) == (503, "database ok\ncache ok\nairflow fail\n")


def test_readyz_says_the_database_fails_without_its_address_or_password(tmp_path) -> None:
    url = f"postgresql://backtest:s3cret@127.0.0.1:{_closed_port()}/nowhere"
    use_fake_services(tmp_path, database_url=url)
    ready = OffLoopClient(_app[0].server).get("/readyz")
    body = ready.get_data(as_text=True)
    assert ready.status_code == 503 and body.startswith("database fail\n")
    assert "s3cret" not in body and "127.0.0.1" not in body


def test_probes_pass_any_host_but_pages_do_not(tmp_path) -> None:
    use_fake_services(tmp_path)
    client = OffLoopClient(_app[0].server)
    assert client.get("/healthz", headers={"Host": "10.0.3.17:8050"}).status_code == 200
    assert client.get("/readyz", headers={"Host": "10.0.3.17:8050"}).status_code == 200
    assert client.get("/sweeps", headers={"Host": "10.0.3.17:8050"}).status_code == 400
    assert client.post("/healthz", headers={"Host": "10.0.3.17:8050"}).status_code == 400


def test_the_composition_roots_readiness_asks_the_real_database_cache_and_airflow(tmp_path) -> None:
    from services.bootstrap import build_services
    from services.settings import Settings

    settings = Settings(
        app_data_dir=tmp_path / "app",
        cache_dir=tmp_path / "cache",
        airflow_url=f"http://127.0.0.1:{_closed_port()}",
    )
    assert build_services(settings).readiness.check() == {"database": True, "cache": True, "airflow": False}
