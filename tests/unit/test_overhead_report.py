"""tests/bench/overhead_report.py: the overhead section reports the drain's and the accept's
ratios as the median of their rounds' own ratios, each round's figure over the same round's
baseline, and the round trips' ratio from round trips taken in turns."""

from tests.bench.drain import Drained
from tests.bench.overhead_report import BASELINE, Accepted, Figures, Round, render
from tests.bench.wrk import Answered


def _figures(jobs_per_second: float, requests_per_second: float) -> Figures:
    drain = Drained(jobs=4000, seconds=4000 / jobs_per_second, cpu_seconds=2, redis_cpu_seconds=1)
    answered = Answered(requests=int(requests_per_second * 10), seconds=10, p50=0.01, p99=0.02)
    return Figures(drain, Accepted(answered, cpu_seconds=5))


def _row(section: str, measure: str) -> list[str]:
    line = next(line for line in section.splitlines() if line.startswith(f"| {measure}"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_a_ratio_is_the_median_of_the_rounds_own_ratios() -> None:
    # The machine slows down in round 2: the baseline and the version slow down together,
    # so each round's ratio stays near 0.5 though the figures halve.
    rounds: list[Round] = [
        {BASELINE: _figures(2000, 4000), "this": _figures(1000, 1000)},
        {BASELINE: _figures(1000, 2000), "this": _figures(520, 480)},
        {BASELINE: _figures(1800, 3600), "this": _figures(880, 1080)},
    ]
    round_trips = {BASELINE: [0.002, 0.001, 0.004], "this": [0.005, 0.003, 0.006]}
    section = render(rounds, round_trips, {"Date": "today"})
    drain = _row(section, "worker drain")
    assert drain[3] == "0.50 (0.50, 0.52, 0.49)"
    assert drain[1].startswith("1,800 jobs/s")  # the median round's baseline
    assert drain[2].startswith("880 jobs/s")  # and the version's median round
    accept = _row(section, "edge accept")
    assert accept[3] == "0.25 (0.25, 0.24, 0.30)"
    round_trip = _row(section, "WS submit")  # the p50s of the round trips, taken in turns
    assert round_trip[1] == "2.0 ms (p99 4.0 ms)"
    assert round_trip[2] == "5.0 ms (p99 6.0 ms)"
    assert round_trip[3] == "2.5x the time"


def test_the_submit_alone_is_read_as_the_accept_is() -> None:
    base = [_figures(2000, 4000), _figures(1000, 2000), _figures(1800, 3600)]
    bare = [_figures(1, 2000).accept, _figures(1, 900).accept, _figures(1, 1900).accept]
    rounds: list[Round] = [
        {BASELINE: base[n], "this": Figures(base[n].drain, base[n].accept, bare[n])}
        for n in range(3)
    ]
    section = render(rounds, {BASELINE: [0.002], "this": [0.005]}, {"Date": "today"})
    (line,) = [line for line in section.splitlines() if line.startswith("**The submit alone**")]
    assert "(this; " in line
    assert "1,900 req/s" in line  # the median round's figures
    assert "ratio 0.50 (0.50, 0.45, 0.53)" in line  # each round's over its own baseline


def test_no_submit_alone_when_no_version_measured_it() -> None:
    rounds: list[Round] = [{BASELINE: _figures(2000, 4000), "this": _figures(1000, 1000)}]
    section = render(rounds, {BASELINE: [0.002], "this": [0.005]}, {"Date": "today"})
    assert "The submit alone**" not in section
