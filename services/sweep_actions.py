"""The use cases, keyed by sweep name: save, preflight, deploy, trigger, retry failed points, cancel."""

from __future__ import annotations

import logging

from airflow_backtest_framework.config import SweepConfig
from services.audit import AuditAction, audited
from services.auth import Principal, Role, require_owner, require_role
from services.data_coverage import DataCoverage
from services.deploy_records import DeployRecord, DeployRecords, DeployTracker
from services.models import CancelResult, CheckResult, DeployProgress, RunSummary, SweepRecord
from services.ports import AuditTrail, CancelCheck, Deployer, ProgressCallback, Runs, SweepStore

log = logging.getLogger(__name__)


class SweepActions:
    """One call per user action: each checks that the acting user may do it (researchers their own sweeps,
    admins any), reads the saved sweep, acts through the ports and records what happened in the registry;
    every save, deploy, trigger, retry and cancel, allowed or not, ends with one event in the audit trail."""

    def __init__(
        self,
        registry: SweepStore,
        deployer: Deployer,
        runs: Runs,
        audit: AuditTrail,
        deploys: DeployRecords | None = None,
        data: DataCoverage | None = None,
    ) -> None:
        self._registry = registry
        self._deployer = deployer
        self._runs = runs
        self._audit = audit
        self._deploys = deploys
        self._data = data

    def _owned(self, principal: Principal | None, name: str, what: str) -> SweepConfig:
        config = self._registry.get(name).config
        require_owner(principal, config.owner, f"{what} {name}")
        return config

    def check(self, principal: Principal | None, name: str, what: str) -> None:
        """Forbidden unless `principal` may act on the saved sweep `name` (NotFound when there is none)."""
        self._owned(principal, name, what)

    def save(
        self, principal: Principal | None, config: SweepConfig, *, expected_version: int | None = None
    ) -> tuple[SweepRecord, bool]:
        """Save the spec as the signed-in user's (the form's owner is not trusted); an existing sweep of
        someone else stays theirs and only an admin may overwrite it. `expected_version`: the version the
        form was edited from (see SweepStore.save). (record, whether it existed)."""
        with audited(self._audit, principal, AuditAction.SAVE, config.name):
            principal = require_role(principal, Role.RESEARCHER, "save sweeps")
            existing = self._registry.find(config.name)
            owner = principal.owner
            if existing is not None:
                require_owner(principal, existing.config.owner, f"overwrite {config.name}")
                owner = existing.config.owner
            config = config.model_copy(update={"owner": owner})
            saved = self._registry.save(config, expected_version=expected_version, by=principal.name)
            return saved, existing is not None

    def preflight(self, name: str) -> list[CheckResult]:
        """The deployer's checks for the saved sweep `name` (NotFound when there is none), then its market
        data's (every symbol covered for the period, see services.data_coverage); reads only."""
        config = self._registry.get(name).config
        checks = self._deployer.preflight(config)
        return checks if self._data is None else [*checks, self._data.check(config)]

    def data_check(self, config: SweepConfig) -> CheckResult | None:
        """The preflight's market-data check of `config` alone (the form's hint); None when not wired."""
        return None if self._data is None else self._data.check(config)

    def deploy(
        self,
        principal: Principal | None,
        name: str,
        on_progress: ProgressCallback | None = None,
        cancelled: CancelCheck | None = None,
    ) -> DeployProgress:
        """Deploy the saved sweep, reporting each step to `on_progress` and to the sweep's deploy record
        (which every host shows); the registry records the deployed spec on success."""
        with audited(self._audit, principal, AuditAction.DEPLOY, name) as entry:
            config = self._owned(principal, name, "deploy")
            tracker = DeployTracker(self._deploys, config.dag_id, name, principal, on_progress)
            try:
                result = self._deployer.deploy(config, on_progress=tracker.report, cancelled=cancelled)
                if result.ok:
                    self._registry.record_deploy(name, config.spec_hash)
                else:
                    entry.failure = result.error or "the deployment did not finish"
            except Exception as exc:
                tracker.failed(exc)
                raise
            tracker.finished(result)  # once the registry holds the deploy: a reload then sees both
            return result

    def cancel_deploy(self, principal: Principal | None, name: str) -> None:
        """The sweep's running deployment is recorded as cancelled (its job is being stopped)."""
        self._owned(principal, name, "cancel the deployment of")
        if self._deploys is not None:
            self._deploys.mark_cancelled(name)

    def last_deploy(self, name: str) -> DeployRecord | None:
        """The sweep's last deployment from any page and host (None: none known)."""
        return self._deploys.last(name) if self._deploys is not None else None

    def trigger(self, principal: Principal | None, name: str) -> RunSummary:
        """A new run of the deployed spec (first run or re-trigger), recorded in the registry."""
        with audited(self._audit, principal, AuditAction.TRIGGER, name) as entry:
            config = self._owned(principal, name, "trigger")
            run = self._runs.trigger(config)
            entry.run_id = run.run_id
            self._registry.record_run(name, run.run_id)
            return run

    def retry_failed(self, principal: Principal | None, name: str, run_id: str) -> list[int]:
        """Clear only the run's failed chunks; the cleared map indices (empty: nothing had failed)."""
        with audited(self._audit, principal, AuditAction.RETRY, name, run_id):
            return self._runs.retry_failed(self._owned(principal, name, "retry"), run_id)

    def cancel(self, principal: Principal | None, name: str, run_id: str) -> CancelResult:
        """Stop the run (a finished run is left as it is)."""
        with audited(self._audit, principal, AuditAction.CANCEL, name, run_id):
            return self._runs.cancel(self._owned(principal, name, "cancel"), run_id)
