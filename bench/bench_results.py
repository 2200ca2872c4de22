"""The Results page (`/results/<sweep>`) of a finished 10,000-point sweep: the server time of its first
render on a cold app, and of the heatmap callback when the axes or the aggregate change (warm).

The sweep's 10,000 points were run by the reference engine itself, one `backtest_engine.main` call
per mapped chunk of 10 (bench/fixtures.py), which wrote its real `points/<index>.json` and
`equity/<index>.json` files; the run's `results.csv` and `summary.json` come from the DAG's summarize
code. Airflow is bench/fake_airflow.py behind a real HTTP server (bench/app_support.py).
The app runs under gunicorn (2 sync workers) and gets real HTTP requests, the callback bodies built
from its own `/_dash-dependencies`; every server time is gunicorn's `%(M)s` from its access log.

First render: on a freshly started app (nothing cached, in either worker, on disk or in memory),
the requests a browser makes when it opens the page, in the order the renderer chains them, each
fed the previous answers: the page's index HTML, `/_dash-layout` and `/_dash-dependencies`, the
page layout callback, then the callbacks each answer triggers (run and axes, the results table,
parallel coordinates with the top-N table, the validation panel (verdict, IS-vs-OOS scatter of every
point, PBO logits, importance: summarize's real validation.json), the heatmap, the equity curve of
the first row).
The figure is the sum of their server times, as if one after the other (the browser overlaps some);
the shell's own callbacks (connection indicator, stepper), which every page fires, are added too.
Measured on COLD_STARTS fresh apps; the median is reported.
"""

from __future__ import annotations

import base64
import itertools
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airflow_backtest_framework.config import SweepConfig
from bench.airflow_server import bench_workspace, seeded_airflow
from bench.app_support import (
    AppProcess,
    CallbackSpec,
    find_callback,
    http_json,
    percentile,
    response_value,
    run_gunicorn,
)
from bench.common import AccessLog, failures, report, section
from bench.fixtures import RESULTS_RUN, seed_results

WORKERS = 2
COLD_STARTS = 3
FIRST_RENDER_S = 1.5
AXES_P95_MS = 200.0
AXES_ROUNDS = 2
WARM_HEATMAPS = 6  # heatmap requests before the measured ones: both workers hold the table
SMOOTHED_HEATMAPS = 6  # the raw/smoothed switch, measured on the warm app (shown, not a target)
THEME = "light"
ALL_VALUES = "__all__"  # components.results_view.ALL_VALUES: a parameter aggregated, not fixed
FIXED_TYPE = "results-fixed"
PAGE_GETS = ("page", "layout", "dependencies")  # the non-callback requests of a page load


class Page:
    """One browser's requests to the app, each tagged `?bench=<tag>` for its access log line."""

    def __init__(self, app: AppProcess, specs: dict[str, CallbackSpec], config: SweepConfig) -> None:
        self.app, self.specs, self.config = app, specs, config
        self.params = list(config.strategy_spec.param_names)

    def post(self, fragment: str, payload: dict, tag: str) -> dict:
        _, (status, body) = self.app.update(payload, tag)
        assert status == 200, f"{fragment} answered {status}"
        return body

    def callback(self, fragment: str, values: dict[str, Any], tag: str, changed: str = "") -> dict:
        return self.post(fragment, self.specs_for(fragment).payload(values, changed=changed), tag)

    def specs_for(self, fragment: str) -> CallbackSpec:
        return find_callback(self.specs, fragment)

    def heatmap(
        self,
        data: dict,
        x: str,
        y: str,
        aggregate: str,
        fixed: dict,
        tag: str,
        changed: str,
        mode: str = "raw",
    ) -> dict:
        """The heatmap callback; its pattern-matching selectors (one per parameter) sent as the renderer
        sends them: a list of {id, property, value} per wildcard input and state."""
        values = {
            "results-data.data": data,
            "results-metric.value": "sharpe",
            "results-x.value": x,
            "results-y.value": y,
            "results-aggregate.value": aggregate,
            "results-heatmap-mode.value": mode,
            "shell-theme.data": THEME,
            "results-name.data": self.config.name,
        }
        payload = self.specs_for("results-heatmap.figure").payload(values, changed=changed)
        selectors = [{"type": FIXED_TYPE, "param": name} for name in self.params]

        def value(ident: dict, prop: str) -> Any:
            return ident if prop == "id" else fixed.get(ident["param"], ALL_VALUES)

        for group in ("inputs", "state"):
            payload[group] = [
                [
                    {"id": i, "property": item["property"], "value": value(i, item["property"])}
                    for i in selectors
                ]
                if FIXED_TYPE in str(item["id"])
                else item
                for item in payload[group]
            ]
        return self.post("results-heatmap.figure", payload, tag)


def heatmap_shape(answer: dict) -> tuple[int, int]:
    """(rows, columns) of the heatmap's z: a list of lists, or plotly's typed array {bdata, shape}."""
    z = response_value(answer, "results-heatmap", "figure")["data"][0]["z"]
    if isinstance(z, dict):
        rows, columns = (int(n) for n in str(z["shape"]).split(","))
        return rows, columns
    return len(z), len(z[0])


def open_page(app: AppProcess, config: SweepConfig, tag: str) -> tuple[Page, dict]:
    """Every request of opening `/results/<sweep>`, chained as the renderer chains them; the data store."""
    name = config.name
    with urllib.request.urlopen(f"{app.url}/results/{name}?bench={tag}-page", timeout=30) as response:
        assert response.status == 200, response.status
    status, _layout = http_json(f"{app.url}/_dash-layout?bench={tag}-layout")
    assert status == 200, status
    page = Page(app, app.callbacks(f"{tag}-dependencies"), config)
    page.callback("shell-connection.children", {}, f"{tag}-shell-connection")
    page.callback("shell-stepper.children", {"shell-current-sweep.data": None}, f"{tag}-shell-stepper")
    location = {"_pages_location.pathname": f"/results/{name}", "_pages_location.search": ""}
    page.callback("_pages_content.children", location, f"{tag}-layout-callback")
    opened = page.callback("results-run.options", {"results-name.data": name}, f"{tag}-open")
    run_id = response_value(opened, "results-run", "value")
    x, y = response_value(opened, "results-x", "value"), response_value(opened, "results-y", "value")
    assert run_id == RESULTS_RUN, run_id
    values = {"results-run.value": run_id, "results-name.data": name, "results-data.data": None}
    loaded = page.callback("results-data.data", values, f"{tag}-load", changed="results-run.value")
    data = response_value(loaded, "results-data", "data")
    count = response_value(loaded, "results-count", "children")
    assert data["rows"] == config.grid_size, (data, count)
    values = {"results-data.data": data, "results-metric.value": "sharpe", "shell-theme.data": THEME}
    values |= {"results-name.data": name, "results-rank-by.value": "full"}
    points = page.callback("results-parcoords.figure", values, f"{tag}-points")
    check_validation(page.callback("results-verdict.children", values, f"{tag}-validation"), config)
    rows = response_value(points, "results-top", "rowData")
    heatmap = page.heatmap(data, x, y, "best", {}, f"{tag}-heatmap", changed="results-data.data")
    expected = (len(config.values(y)), len(config.values(x)))
    assert heatmap_shape(heatmap) == expected, (heatmap_shape(heatmap), expected)
    values = {"results-top.rowData": rows, "shell-theme.data": THEME, "results-run.value": run_id}
    values.update({"results-top.selectedRows": None, "results-name.data": name})
    equity = page.callback("results-equity.figure", values, f"{tag}-equity", changed="results-top.rowData")
    curve = response_value(equity, "results-equity", "figure")["data"]
    assert curve and len(curve[0]["y"]) > 1, "the best point's equity curve (the engine wrote one)"
    return page, data


def check_validation(answer: dict, config: SweepConfig) -> None:
    """The validation panel's answer: the verdict (summarize's final report of every point) and a scatter
    of every point in and out of sample."""
    verdict = str(response_value(answer, "results-verdict", "children"))
    assert "DSR" in verdict and "PBO" in verdict and "partial" not in verdict, verdict[:400]
    scatter = response_value(answer, "results-is-oos", "figure")["data"]
    assert scatter_points(scatter[1]["x"]) == config.grid_size, "every point in the IS-vs-OOS scatter"
    assert response_value(answer, "results-pbo-logits", "figure")["data"], "the PBO logit histogram"


def scatter_points(x: Any) -> int:
    """The length of a trace's x: a list, or plotly's typed array {dtype, bdata} (base64)."""
    if isinstance(x, dict):
        return len(base64.b64decode(x["bdata"])) // np.dtype(x["dtype"]).itemsize
    return len(x)


SHELL_STEPS = ("shell-connection", "shell-stepper")
PAGE_STEPS = (*PAGE_GETS, "layout-callback", "open", "load", "points", "validation", "heatmap", "equity")


def render_ms(access: AccessLog, tag: str) -> dict[str, float]:
    """Server time of each request of one page opening (open_page with `tag`), by step."""
    times = {}
    for step in (*PAGE_STEPS, *SHELL_STEPS):
        found = access.server_ms(f"bench={tag}-{step} ")
        assert len(found) == 1, (tag, step, found)
        times[step] = found[0]
    return times


def show_render(label: str, times: dict[str, float], access: AccessLog, tag: str) -> None:
    pids = access.pids(f"bench={tag}-")
    steps = ", ".join(f"{step} {ms:.0f}" for step, ms in times.items())
    print(f"  {label}: {steps} ms (by {len(pids)} workers); total {sum(times.values()) / 1e3:.2f} s")


def first_render(workspace: Path, airflow_url: str, config: SweepConfig, attempt: int) -> dict[str, float]:
    """The server times of opening the page on a fresh app (both workers new) with a fresh cache folder."""
    tag = f"cold{attempt}"
    with run_gunicorn(workspace, airflow_url, f"cold-{attempt}", WORKERS) as (app, access):
        open_page(app, config, tag)
        time.sleep(0.5)  # let the workers flush their access log lines
    times = render_ms(access, tag)
    show_render(f"cold app {attempt + 1}", times, access, tag)
    return times


def axis_choices(config: SweepConfig) -> list[tuple[str, str, str, dict]]:
    """(x, y, aggregate, fixed) of the measured heatmap changes: every ordered pair of parameters with
    max and mean, and each pair again with one of the other parameters fixed to its middle value."""
    params = list(config.strategy_spec.param_names)
    choices = []
    for x, y in itertools.permutations(params, 2):
        others = [p for p in params if p not in (x, y)]
        middle = config.values(others[0])[len(config.values(others[0])) // 2]
        choices += [(x, y, "best", {}), (x, y, "mean", {}), (x, y, "mean", {others[0]: middle})]
    return choices


def bench_axes(workspace: Path, airflow_url: str, config: SweepConfig) -> list[float]:
    """Heatmap callback server times (ms) over every axis choice, AXES_ROUNDS times, once the page was
    opened and WARM_HEATMAPS more were drawn; then the page is opened again (a second visitor)."""
    with run_gunicorn(workspace, airflow_url, "warm", WORKERS) as (app, access):
        page, data = open_page(app, config, "warm")
        choices = axis_choices(config)
        for x, y, aggregate, fixed in choices[:WARM_HEATMAPS]:
            page.heatmap(data, x, y, aggregate, fixed, "warmup", changed="results-x.value")
        for _ in range(AXES_ROUNDS):
            for x, y, aggregate, fixed in choices:
                answer = page.heatmap(data, x, y, aggregate, fixed, "axes", changed="results-x.value")
                assert heatmap_shape(answer)[0] == len(config.values(y)), (x, y, aggregate, fixed)
        for x, y, aggregate, fixed in choices[:SMOOTHED_HEATMAPS]:
            answer = page.heatmap(
                data, x, y, aggregate, fixed, "smoothed", "results-heatmap-mode.value", "smoothed"
            )
            assert heatmap_shape(answer)[0] == len(config.values(y)), (x, y, aggregate, fixed)
        open_page(app, config, "revisit")
        time.sleep(0.5)
    show_render("the page opened again on the warm app", render_ms(access, "revisit"), access, "revisit")
    smoothed = access.server_ms("bench=smoothed ")
    print(f"  the heatmap switched to the smoothed metric, {len(smoothed)} times: max {max(smoothed):.0f} ms")
    return access.server_ms("bench=axes ")


def main() -> int:
    with bench_workspace("bench-results-") as workspace:
        server, config, seconds = seeded_airflow(workspace, seed_results)
        files = sum(1 for _ in (workspace / "results").rglob("*.json"))
        print(
            f"a finished sweep of {config.grid_size:,} points in {config.task_count:,} chunks, run by the"
            f" engine: {files:,} result files written in {seconds:.0f} s"
        )
        with server as airflow:
            section(f"(a) first render of /results/{config.name}: cold app and cache, gunicorn -w {WORKERS}")
            renders = [first_render(workspace, airflow.url, config, n) for n in range(COLD_STARTS)]
            page_s = statistics.median(sum(t[step] for step in PAGE_STEPS) / 1e3 for t in renders)
            total_s = statistics.median(sum(t.values()) / 1e3 for t in renders)
            print(
                f"  server times summed as if one after the other (the browser overlaps some); the results"
                f" page's own requests alone: median {page_s:.2f} s"
            )
            name = (
                f"results first render server time incl. the shell's callbacks, cold, median of {COLD_STARTS}"
            )
            report(name, total_s, "s", FIRST_RENDER_S)
            section("(b) heatmap axes and aggregate changes, warm app")
            axes_ms = bench_axes(workspace, airflow.url, config)
            choices = len(axis_choices(config))
            print(
                f"  {len(axes_ms)} heatmap callbacks ({choices} axis/aggregate/fixed choices x"
                f" {AXES_ROUNDS}): p50 {percentile(axes_ms, 0.5):.0f} ms, max {max(axes_ms):.0f} ms"
            )
            p95 = percentile(axes_ms, 0.95)
            report(
                "results heatmap after an axes or aggregate change, warm, server time p95",
                p95,
                "ms",
                AXES_P95_MS,
            )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
