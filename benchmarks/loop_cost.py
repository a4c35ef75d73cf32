"""x86 instructions per second of sampling of the board's whole main loop (XIAO profile: LSM6DS3TR-C driver,
detector, store, link) under the real `micropython`, counted by callgrind: the loop over LONG_S minus the loop
over SHORT_S of the same recorded I2C reads, so start-up and loading cancel. The wearer is the shipped
oxford walk looped, then sitting still: a walking-heavy quarter hour.

    python benchmarks/loop_cost.py      (needs valgrind; about a minute)
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

from walkdose import bench, commands, recording, replay

RATE_MHZ = 52000
SHORT_S, LONG_S = 290, 890
HERE = os.path.dirname(os.path.abspath(__file__))
WALK = os.path.join(HERE, "..", "recordings", "Samsung_Jamie_Hard_InHand_1.csv")


def instructions(workdir, raw, mode, seconds):
    root = tempfile.mkdtemp(dir=workdir)
    out = os.path.join(workdir, f"callgrind.{mode}.{seconds}")
    command = [commands.find("micropython"), os.path.join(HERE, "loop_cost_board.py"), mode, raw, str(seconds), root]
    if mode == "replay":
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + command
    subprocess.run(command, check=True, capture_output=True, env=bench.counted_env(replay.firmware_root()))
    if mode == "replay":
        with open(out) as f:
            return int(re.search(r"^summary: (\d+)", f.read(), re.M).group(1))
    return None


def main():
    walk = recording.load_counts(WALK, RATE_MHZ, 4096)
    samples_per_s = RATE_MHZ // 1000
    walking = np.concatenate([walk] * (600 * samples_per_s // len(walk) + 1))[:600 * samples_per_s]
    still = np.tile(np.array([[0, 0, 4096]], dtype=np.int16), (310 * samples_per_s, 1))
    with tempfile.TemporaryDirectory() as workdir:
        raw = os.path.join(workdir, "wear.i16")
        np.concatenate([walking, still]).astype("<i2").tofile(raw)
        instructions(workdir, raw, "record", LONG_S)
        short = instructions(workdir, raw, "replay", SHORT_S)
        long = instructions(workdir, raw, "replay", LONG_S)
    per_s = (long - short) / (LONG_S - SHORT_S)
    print(json.dumps({"instr_per_second_of_sampling": round(per_s), "instr_per_sample": round(per_s / 52),
                      "rate_hz": 52}))


if __name__ == "__main__":
    sys.exit(main())
