"""The writer's maintenance loop: each job steps only after its idle time, never back to back
while it has nothing to do, and between commit groups only when it says it is overdue."""

from __future__ import annotations

from localobs.store.idle_jobs import IdleJobs


class Job:
    """A job that records its steps (the protocol's smallest implementation)."""

    def __init__(self, timeout: float | None, *, overdue: bool = False) -> None:
        self.timeout = timeout
        self.late = overdue
        self.steps = 0

    def idle_timeout(self) -> float | None:
        return self.timeout

    def overdue(self) -> bool:
        return self.late

    def step(self) -> bool:
        self.steps += 1
        return False


def test_jobs_step_after_their_idle_time() -> None:
    now = [0.0]
    fast, slow, idle = Job(0.25), Job(1.0), Job(None)
    jobs = IdleJobs([fast, slow, idle], clock=lambda: now[0])
    assert jobs.wait_s() == 0.25
    now[0] += 0.25
    jobs.run_idle()
    assert (fast.steps, slow.steps, idle.steps) == (1, 0, 0)
    assert jobs.wait_s() == 0.25  # the fast job again 0.25 s after its step, not at once
    now[0] += 0.75
    jobs.run_idle()
    assert (fast.steps, slow.steps) == (2, 1)
    jobs.busy()  # a batch came: idle time starts again
    assert jobs.wait_s() == 0.25
    jobs.run_idle()
    assert (fast.steps, slow.steps) == (2, 1)


def test_nothing_to_do_waits_for_batches_only() -> None:
    jobs = IdleJobs([Job(None)])
    assert jobs.wait_s() is None


def test_overdue_jobs_step_between_commit_groups() -> None:
    behind, fine = Job(0.25, overdue=True), Job(0.25)
    jobs = IdleJobs([behind, fine])
    jobs.run_overdue()
    assert (behind.steps, fine.steps) == (1, 0)


class Failing(Job):
    """A job whose step raises, as a fold over a hostile stored row once did."""

    def step(self) -> bool:
        self.steps += 1
        raise RecursionError("too deep")


def test_a_failing_job_is_reported_backs_off_and_the_others_go_on() -> None:
    now = [0.0]
    failing, healthy = Failing(0.25, overdue=True), Job(0.25)
    reported: list[tuple[str, str]] = []
    jobs = IdleJobs(
        [failing, healthy],
        clock=lambda: now[0],
        on_error=lambda job, exc: reported.append((job, str(exc))),
    )
    now[0] += 0.25
    jobs.run_idle()
    assert (failing.steps, healthy.steps) == (1, 1)
    assert reported == [("Failing", "too deep")]
    jobs.run_overdue()  # a failing job is not stepped between commit groups
    assert failing.steps == 1
    now[0] += 0.25
    jobs.run_idle()
    assert (failing.steps, healthy.steps) == (1, 2)  # backed off: 0.25 + 2 s, not 0.25
    now[0] += 2.0
    jobs.run_idle()
    assert failing.steps == 2 and len(reported) == 2
