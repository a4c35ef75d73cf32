"""The emulated board end to end: QEMU's Cortex-M4F (mps2-an386) running MicroPython's qemu port with walkdose's
board definition (host/qemu_board), bare until `walkdose flash` copies the XIAO's .mpy files (-march=armv7emsp) to
it with the real mpremote over its UART, resets it into main.py and sets its clock; then worn an hour of simulated
time (sim/arm_board.py: the simulator's fake IMU, wearer and clock under the flashed firmware) and synced with
`walkdose sync`. The synced minutes equal `walkdose replay` of the very samples its fake IMU delivered.
"""
import datetime
import time
import types

from conftest import RUN_MIN
from test_sim_board import RECORDING, assert_synced_equal_replay, sync
from walkdose import cli, flash, simulate

WEAR_MIN = 62


def test_a_flashed_emulated_board_worn_an_hour_syncs_what_replay_counts(qemu_firmware, tmp_path, noon, capsys,
                                                                         monkeypatch):
    start = noon - datetime.timedelta(minutes=WEAR_MIN - RUN_MIN)
    walk_at = start + datetime.timedelta(minutes=5)
    db = str(tmp_path / "walkdose.sqlite")
    with simulate.Simulator([f"{RECORDING}@{walk_at:%H:%M}x8"], str(tmp_path), start,
                            arm_firmware=qemu_firmware) as sim:
        with monkeypatch.context() as patch:  # flashed an hour ago: its clock set to then
            patch.setattr(flash, "time", types.SimpleNamespace(time=sim.worn_clock, monotonic=time.monotonic,
                                                               sleep=time.sleep))
            assert cli.main(["flash", "--board", simulate.BOARD, "--port", sim.pty_path]) == 0
        flashed = capsys.readouterr().out
        assert "mpy-cross -march=armv7emsp" in flashed and f"{simulate.BOARD} 5a17d05e00000001 counting" in flashed
        sim.wait_for("caught_up", 600)
        sync(sim.pty_path, db, capsys)
        run_min = (int(time.time()) - sim.worn["start_epoch_s"]) // 60
    assert run_min >= WEAR_MIN
    assert_synced_equal_replay(sim, db, datetime.datetime.fromtimestamp(sim.worn["start_epoch_s"]), capsys, run_min)
