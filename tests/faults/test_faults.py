"""The fault suite's short version (`make faults` runs the full one): every scenario with few jobs and
short timings, each against a fresh system of separate processes, asserting the aims of issue 13."""

from __future__ import annotations

import pytest

from tests.faults.scenarios import AWS_READ_TIMEOUT_SECONDS, SCENARIOS, Params, run_scenario

pytestmark = pytest.mark.e2e

SHORT = Params(
    jobs=15,
    codegen_kills=2,
    sigterms=1,
    downtime_seconds=20,  # four outbox graces: the relay publishes the waiting requests again meanwhile
    stall_seconds=AWS_READ_TIMEOUT_SECONDS + 5,
    quiet_seconds=5,
    settle_timeout_seconds=240,
    env={"SNAPINFRA_OUTBOX_GRACE_SECONDS": "5"},
    # A killed codegen's message comes back after 15 s (not the queue's 120 s), its claim's lease long gone.
    codegen_env={"SNAPINFRA_VISIBILITY_TIMEOUT_SECONDS": "15", "SNAPINFRA_LEASE_SECONDS": "10"},
)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_under_the_fault_every_job_completes_once_and_is_announced_once(scenario, tmp_path):
    row = run_scenario(scenario, SHORT, tmp_path)
    observed = {
        "settled before the deadline": row.settled,
        "accepted": row.accepted,
        "completed": row.completed,
        "stuck": row.stuck,
        "dead-lettered (not poison)": row.dead_lettered,
        "poison dead-lettered": row.poison_dead_lettered,
        "ZIPs per job (min, max)": (row.zips_min, row.zips_max),
        "completion webhooks per job (min, max)": (row.webhooks_min, row.webhooks_max),
        "distinct webhook-ids per job (max)": row.webhook_ids_max,
        "bad signatures": row.invalid_signatures,
        "HTTP 500": row.http_500,
    }
    assert observed == {
        "settled before the deadline": True,
        "accepted": SHORT.jobs,
        "completed": SHORT.jobs,
        "stuck": 0,
        "dead-lettered (not poison)": 0,
        "poison dead-lettered": row.poison_sent,
        "ZIPs per job (min, max)": (1, 1),
        "completion webhooks per job (min, max)": (1, 1),
        "distinct webhook-ids per job (max)": 1,
        "bad signatures": 0,
        "HTTP 500": 0,
    }, f"dead letters {row.dead_letter_errors}; the processes' logs are under {tmp_path}"
    assert scenario != "poison" or row.poison_sent > 0
