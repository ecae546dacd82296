"""Against a real `prefect server` and process worker: alert automations, typed parameters, run logs.

One server for the module (tests.fixtures.prefect_server); `hub prefect setup` and one
deployment (sync-source/app) are made once; the tests then run in order.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tenacity import retry, retry_if_result, stop_after_attempt, wait_fixed

from tests.fixtures.prefect_server import REPO, PrefectServer
from tests.outbox.helpers import Receiver, webhook_receiver

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def ops_hook() -> Iterator[Receiver]:
    """The operator's webhook (HUB_OPS_WEBHOOK) for this module."""
    with webhook_receiver() as rec:
        yield rec


@pytest.fixture(scope="module")
def hub(prefect_server: PrefectServer, module_sandbox, ops_hook, tmp_path_factory) -> PrefectServer:  # noqa: ANN001
    """The server with `hub prefect setup` done, sync-source/app deployed and one worker running."""
    tmp = tmp_path_factory.mktemp("hub-on-server")
    urls = tmp / "sandbox-urls.json"
    urls.write_text(json.dumps(module_sandbox.urls))
    prefect_server.env.update({"HUB_SOURCE_URLS": str(urls), "HUB_DATABASE_URL": f"sqlite:///{tmp / 'hub.db'}",
                               "HUB_HOME": str(tmp / "home"), "HUB_REPO_DIR": str(REPO),
                               "HUB_OPS_WEBHOOK": ops_hook.url})
    assert prefect_server.run("hub", "db", "upgrade").returncode == 0
    first = prefect_server.run("hub", "prefect", "setup", "--late-minutes", "10")
    assert first.returncode == 0, first.stdout + first.stderr
    deploy = prefect_server.run("prefect", "--no-prompt", "deploy", "--name", "app")
    assert deploy.returncode == 0, deploy.stdout[-2000:] + deploy.stderr[-2000:]
    # the tests start their own runs: pause the schedule and drop the runs it already made
    dep = httpx.get(f"{prefect_server.api}/deployments/name/sync-source/app", timeout=15).json()
    assert httpx.patch(f"{prefect_server.api}/deployments/{dep['id']}", json={"paused": True},
                       timeout=15).status_code < 300
    for run in httpx.post(f"{prefect_server.api}/flow_runs/filter", timeout=15, json={"limit": 200}).json():
        httpx.delete(f"{prefect_server.api}/flow_runs/{run['id']}", timeout=15)
    prefect_server.start("prefect", "worker", "start", "--pool", "hub-pool", "--limit", "2",
                         log=tmp / "worker.log")
    prefect_server.worker_log = tmp / "worker.log"  # type: ignore[attr-defined]
    return prefect_server


# a 503 is the server's "busy, try again" (its SQLite database locked a moment, e.g. while it
# expires a lease): Prefect's own client retries it, and so does this helper (CI saw one); after
# the last attempt the 503 itself is returned, for the test's assertion to show
@retry(retry=retry_if_result(lambda r: r.status_code == 503), stop=stop_after_attempt(5), wait=wait_fixed(1),
       retry_error_callback=lambda state: state.outcome.result())
def _api(srv: PrefectServer, method: str, path: str, **kw) -> httpx.Response:  # noqa: ANN003
    return httpx.request(method, f"{srv.api}{path}", timeout=15, **kw)


def _runs(srv: PrefectServer) -> list[dict]:
    return _api(srv, "POST", "/flow_runs/filter", json={"limit": 100}).json()


def _wait_state(srv: PrefectServer, run_id: str, types: set[str], timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = _api(srv, "GET", f"/flow_runs/{run_id}").json()["state"]["type"]
        if state in types:
            return state
        time.sleep(1)
    raise AssertionError(f"run {run_id} still {state}, wanted {types}")


def _run_deployment(srv: PrefectServer, source: str = "app") -> str:
    res = srv.run("prefect", "deployment", "run", "sync-source/app", "--param", f"source={source}")
    assert res.returncode == 0, res.stdout + res.stderr
    import re

    return re.search(r"UUID: ([0-9a-f-]{36})", res.stdout).group(1)


def _pid_of_run(run_id: str, timeout: float = 120) -> int:
    """The flow-run process the worker started (found by the run id in its environment)."""
    want = f"PREFECT__FLOW_RUN_ID={run_id}".encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                if want in (d / "environ").read_bytes().split(b"\0"):
                    return int(d.name)
            except OSError:
                continue
        time.sleep(0.5)
    raise AssertionError(f"no process for run {run_id}")


def test_setup_is_idempotent_and_creates_the_automations_and_limits(hub: PrefectServer) -> None:
    again = hub.run("hub", "prefect", "setup", "--late-minutes", "10")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count(": updated") == 3 and "created" not in again.stdout
    autos = _api(hub, "POST", "/automations/filter", json={}).json()
    names = sorted(a["name"] for a in autos)
    assert names == ["complaint-hub: run crashed", "complaint-hub: run failed", "complaint-hub: run late"]
    limits = {lim["name"]: lim["limit"] for lim in _api(hub, "POST", "/v2/concurrency_limits/filter", json={}).json()}
    assert limits.get("hub-sync-app") == 1 and limits.get("hub-sync-gov12315") == 1


def test_a_bad_parameter_is_refused_before_a_run_exists(hub: PrefectServer) -> None:
    for bad in ("source=foo", "source=app; rm"):
        res = hub.run("prefect", "deployment", "run", "sync-source/app", "--param", bad)
        assert res.returncode != 0 and "source" in (res.stdout + res.stderr)
    assert [r["parameters"] for r in _runs(hub) if r["parameters"].get("source") != "app"] == []


def test_a_killed_run_is_reported_at_the_ops_webhook(hub: PrefectServer, module_sandbox, ops_hook) -> None:  # noqa: ANN001
    # the killed run syncs sms: its slot's lease runs out while the next tests use app's
    # (test_a_killed_holders_slot_is_freed, last in this module, checks that it does)
    module_sandbox.set_faults("sms", hang_rate=1.0, hang_seconds=120)  # the run hangs in its pull
    try:
        run_id = _run_deployment(hub, "sms")
        _wait_state(hub, run_id, {"RUNNING"})
        held_by = time.monotonic() + 60
        while not _active_slots(hub, "hub-sync-sms") and time.monotonic() < held_by:
            time.sleep(0.5)
        assert _active_slots(hub, "hub-sync-sms") == 1, "the run never took the slot of sms"
        pid = _pid_of_run(run_id)
        os.kill(pid, signal.SIGKILL)  # what the OOM killer does
        killed = time.monotonic()
        assert _wait_state(hub, run_id, {"CRASHED", "FAILED", "COMPLETED"}) == "CRASHED"
    finally:
        module_sandbox.set_faults("sms", hang_rate=0.0)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not [b for b in ops_hook.bodies if b.get("run_id") == run_id]:
        time.sleep(1)
    got = [b for b in ops_hook.bodies if b.get("run_id") == run_id]
    assert got, f"no alert for the killed run; received {ops_hook.bodies}"
    print(f"alert at the ops webhook {time.monotonic() - killed:.1f} s after SIGKILL")  # noqa: T201 - a figure
    assert got[0]["what"] == "flow run crashed" and got[0]["flow"] == "sync-source" and got[0]["deployment"] == "app"


def _active_slots(srv: PrefectServer, name: str) -> int:
    limits = _api(srv, "POST", "/v2/concurrency_limits/filter", json={}).json()
    return next(lim["active_slots"] for lim in limits if lim["name"] == name)


def test_hub_lines_are_in_prefect_flow_run_logs(hub: PrefectServer) -> None:
    run_id = _run_deployment(hub)
    assert _wait_state(hub, run_id, {"COMPLETED", "FAILED", "CRASHED"}) == "COMPLETED"
    # what the worker's process cost: Pending (the worker started it) → Completed
    from datetime import datetime

    states = {s["type"]: datetime.fromisoformat(s["timestamp"])  # the last of each type
              for s in sorted(_api(hub, "GET", f"/flow_run_states/?flow_run_id={run_id}").json(),
                              key=lambda s: s["timestamp"])}
    cost = (states["COMPLETED"] - states["PENDING"]).total_seconds()
    print(f"worker run of sync-source/app: Pending → Completed {cost:.1f} s")  # noqa: T201 - a figure
    assert cost < 15, cost  # a loose bound for 2 busy cores; the figure is printed for the record
    time.sleep(2)
    logs = hub.run("prefect", "flow-run", "logs", run_id)
    assert logs.returncode == 0, logs.stderr
    assert "app: " in logs.stdout and "page(s)" in logs.stdout and "routed in" in logs.stdout, logs.stdout[-3000:]
    assert "pulled app: pages=" in logs.stdout  # a line of the hub's own logger (hub.pipeline.pull)


def test_a_worker_started_from_another_directory_runs_the_deployment(hub: PrefectServer, tmp_path) -> None:  # noqa: ANN001
    from tests.fixtures.prefect_server import stop

    dep = _api(hub, "GET", "/deployments/name/sync-source/app").json()
    # nothing of the deployer's machine is stored: the step finds each worker's own checkout
    assert dep["pull_steps"] == [{"flows.workdir.enter_checkout": {}}], dep["pull_steps"]
    assert str(REPO) not in json.dumps(dep)
    for p in list(hub.procs):  # only the new worker may pick the run
        stop(p)
        hub.procs.remove(p)
    elsewhere = tmp_path / "other-machine"
    elsewhere.mkdir()
    log = tmp_path / "worker2.log"
    env = {k: v for k, v in hub.env.items() if k != "HUB_REPO_DIR"}  # found from the worker's venv
    hub.start("prefect", "worker", "start", "--pool", "hub-pool", "--name", "second", cwd=elsewhere, log=log,
              env=env)
    run_id = _run_deployment(hub)
    assert _wait_state(hub, run_id, {"COMPLETED", "FAILED", "CRASHED"}) == "COMPLETED"
    run = _api(hub, "GET", f"/flow_runs/{run_id}").json()
    assert run["work_pool_name"] == "hub-pool" and run_id in log.read_text()


def _sync_spans(srv: PrefectServer, run_id: str) -> tuple[list[tuple[float, float]], list[str]]:
    """(start, end) of each sync of app in a run, from its flow-run logs, and all its messages.

    The task's line "app: … routed in X s" is logged when it left the source's slot; the X seconds
    before it were spent holding the slot (flows.tasks.sync_source_task).
    """
    import re
    from datetime import datetime

    logs = _api(srv, "POST", "/logs/filter", json={"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200}).json()
    spans = []
    for entry in logs:
        m = re.match(r"app: \d+ page\(s\).* routed in ([\d.]+) s", entry["message"])
        if m:
            end = datetime.fromisoformat(entry["timestamp"]).timestamp()
            spans.append((end - float(m.group(1)), end))
    return spans, [e["message"] for e in logs]


def test_two_workers_never_sync_one_source_at_once(hub: PrefectServer, module_sandbox, tmp_path) -> None:  # noqa: ANN001
    """A sync-all and a sync-source of app, created at once on two workers: one waits for the other."""
    from tests.fixtures.prefect_server import stop

    deploy = hub.run("prefect", "--no-prompt", "deploy", "--name", "all-sources")
    assert deploy.returncode == 0, deploy.stdout[-2000:] + deploy.stderr[-2000:]
    for p in list(hub.procs):
        stop(p)
        hub.procs.remove(p)
    logs = {name: tmp_path / f"{name}.log" for name in ("w-one", "w-two")}
    for name, log in logs.items():  # one run at a time each: the two runs go to two workers
        hub.start("prefect", "worker", "start", "--pool", "hub-pool", "--name", name, "--limit", "1", log=log)
    module_sandbox.generate(600, source="app")  # several pages …
    module_sandbox.set_faults("app", latency_ms=1500)  # … each slow: an overlap could not hide
    try:
        runs = []
        for name, params in (("sync-source/app", {"source": "app"}), ("sync-all/all-sources", {"sources": ["app"]})):
            dep = _api(hub, "GET", f"/deployments/name/{name}").json()
            made = _api(hub, "POST", f"/deployments/{dep['id']}/create_flow_run", json={"parameters": params})
            assert made.status_code < 300, made.text
            runs.append(made.json()["id"])
        states = [_wait_state(hub, r, {"COMPLETED", "FAILED", "CRASHED"}, timeout=300) for r in runs]
    finally:
        module_sandbox.set_faults("app", latency_ms=0)
    assert states == ["COMPLETED", "COMPLETED"], states
    text = {n: log.read_text() for n, log in logs.items()}  # a worker may try a run another one took first
    ran_on = {r: [n for n, t in text.items() if r in t and f"Aborted submission of flow run '{r}'" not in t]
              for r in runs}
    assert sorted(n for names in ran_on.values() for n in names) == ["w-one", "w-two"], ran_on
    time.sleep(2)  # the last log batch reaches the API (PREFECT_LOGGING_TO_API_BATCH_INTERVAL=0.5)
    found = [_sync_spans(hub, r) for r in runs]
    spans = sorted(s for sp, _ in found for s in sp)
    assert len(spans) == 2, found
    (_, first_end), (second_start, _) = spans
    print(f"two syncs of app: first ended {first_end:.1f}, second started {second_start:.1f}")  # noqa: T201
    assert second_start >= first_end - 0.1, f"the two syncs of app overlapped: {spans}"
    # the Prefect limit did it (not the store lease behind it): the second says it waited for it
    assert any("for another sync of app to finish" in m for _, msgs in found for m in msgs), found


def test_a_killed_holders_slot_is_freed_when_its_lease_runs_out(hub: PrefectServer) -> None:
    """The run killed above held hub-sync-sms: nobody renews its lease, so the slot is free again."""
    deadline = time.monotonic() + 180
    while _active_slots(hub, "hub-sync-sms") and time.monotonic() < deadline:
        time.sleep(2)
    assert _active_slots(hub, "hub-sync-sms") == 0, "a killed holder's slot was never freed"
