"""Component trees of the Connections page: the settings in use (never a secret)."""

from __future__ import annotations

from dash import html

from services.settings import Settings


def settings_rows(settings: Settings) -> list[tuple[str, str]]:
    """The settings worth seeing when a check fails (never a secret)."""
    rows = [("Mode", settings.mode)]
    if settings.mode == "aws":
        rows += [
            ("AWS region", settings.aws_region),
            ("AWS profile", settings.aws_profile or "default chain"),
            ("MWAA environment", settings.mwaa_environment_name or "—"),
            ("DAGs", f"s3://{settings.s3_dags_bucket}/{settings.s3_dags_prefix}"),
            ("Results", settings.results_uri or "—"),
            ("Airflow UI", settings.airflow_webserver_url or "—"),
        ]
    else:
        rows += [
            ("Airflow API", settings.airflow_url),
            ("Airflow user", settings.airflow_username),
            ("DAGs folder", str(settings.local_dags_folder)),
            ("Results", str(settings.results_root)),
        ]
    rows += [
        ("Max grid points", f"{settings.max_grid_points:,}"),
        ("Status refresh", f"{settings.refresh_interval_s:g} s"),
    ]
    return rows


def make_settings_list(settings: Settings) -> html.Dl:
    return html.Dl(
        [
            html.Div(
                [html.Dt(key, className="bt-kv-key"), html.Dd(value, className="bt-kv-value bt-mono")],
                className="bt-kv-row",
            )
            for key, value in settings_rows(settings)
        ],
        className="bt-kv",
    )
