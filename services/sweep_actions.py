"""The use cases, keyed by sweep name: preflight, deploy, trigger, retry failed points, cancel."""

from __future__ import annotations

import logging

from services.models import CancelResult, CheckResult, DeployProgress, RunSummary
from services.ports import CancelCheck, Deployer, ProgressCallback, Runs, SweepStore

log = logging.getLogger(__name__)


class SweepActions:
    """One call per user action: each reads the saved sweep, acts through the ports and records what
    happened in the registry (a deployed spec hash, a started run)."""

    def __init__(self, registry: SweepStore, deployer: Deployer, runs: Runs) -> None:
        self._registry = registry
        self._deployer = deployer
        self._runs = runs

    def preflight(self, name: str) -> list[CheckResult]:
        """The deployer's checks for the saved sweep `name` (NotFound when there is none)."""
        return self._deployer.preflight(self._registry.get(name).config)

    def deploy(
        self, name: str, on_progress: ProgressCallback | None = None, cancelled: CancelCheck | None = None
    ) -> DeployProgress:
        """Deploy the saved sweep, reporting each step; the registry records the deployed spec on success."""
        config = self._registry.get(name).config
        result = self._deployer.deploy(config, on_progress=on_progress, cancelled=cancelled)
        if result.ok:
            self._registry.record_deploy(name, config.spec_hash)
        return result

    def trigger(self, name: str) -> RunSummary:
        """A new run of the deployed spec (first run or re-trigger), recorded in the registry."""
        config = self._registry.get(name).config
        run = self._runs.trigger(config)
        self._registry.record_run(name, run.run_id)
        return run

    def retry_failed(self, name: str, run_id: str) -> list[int]:
        """Clear only the run's failed chunks; the cleared map indices (empty: nothing had failed)."""
        return self._runs.retry_failed(self._registry.get(name).config, run_id)

    def cancel(self, name: str, run_id: str) -> CancelResult:
        """Stop the run (a finished run is left as it is)."""
        return self._runs.cancel(self._registry.get(name).config, run_id)
