"""Accuracy metrics on hand-made results and truths."""
import pytest

from walkdose import evaluate


def test_step_matching_is_one_to_one_within_tolerance():
    truth = [1.0, 2.0, 3.0, 4.0]
    found = [0.75, 1.1, 2.29, 2.35, 3.5, 4.0]
    # 0.75 and 1.1 both fit 1.0 (one match); 2.29 fits 2.0, 2.35 is left over; 3.5 fits nothing; 4.0 fits.
    assert evaluate.match_steps(found, truth) == 3
    assert evaluate.f1_score(found, truth) == pytest.approx(2 * 3 / 10)
    assert evaluate.f1_score([], []) == 1.0


def walk_truth(**extra):
    truth = {"dataset": "set", "placement": "phone:ArmBand", "duration_s": 120.0, "steps": 200,
             "step_times": None, "walking": None}
    truth.update(extra)
    return truth


def result(steps, walking_s=0.0, step_times=()):
    return {"steps": steps, "walking_s": walking_s, "step_times": list(step_times)}


def test_walk_scores_step_error_and_walking_time():
    row = evaluate.score(result(190, 88.0), walk_truth(walking=[[10, 50], [60, 100]]))
    assert row["step_error_pct"] == pytest.approx(-5.0)
    assert row["walk_error_pct"] == pytest.approx(10.0)
    assert row["placement"] == "phone:armband"


def test_still_recordings_count_wrong_steps_and_walking_share():
    # 20 true steps in 3600 s is a cadence of 0.33/min: still or mixed, scored as wrong steps.
    row = evaluate.score(result(50, 36.0), walk_truth(steps=20, duration_s=3600.0, walking=[]))
    assert "step_error_pct" not in row and row["wrong_steps"] == 30
    assert row["walking_fraction_pct"] == pytest.approx(1.0)


def test_summary_per_hour_and_mape():
    rows = [evaluate.score(result(190), walk_truth()), evaluate.score(result(220), walk_truth()),
            evaluate.score(result(10), walk_truth(steps=0, duration_s=1800.0)),
            evaluate.score(result(5), walk_truth(steps=0, duration_s=1800.0))]
    s = evaluate.summarise(rows)
    assert s["step_mape_pct"] == pytest.approx(7.5) and s["step_bias_pct"] == pytest.approx(2.5)
    assert s["wrong_steps_per_hour"] == pytest.approx(15.0)
    table = evaluate.table(rows)
    assert table[-1][0] == "all" and table[-1][2]["files"] == 4
    assert "wrong steps/h" in evaluate.format_table(table)
