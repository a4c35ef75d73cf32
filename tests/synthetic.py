"""Clear synthetic accelerometer signals for tests: what a walker, a desk or a shaken board would give.
Walking is modelled as a 1 g vertical axis carrying one acceleration trough per step."""
import numpy as np

COUNTS_PER_G = 4096


def still(seconds, rate_hz, axis=2):
    n = int(round(seconds * rate_hz))
    out = np.zeros((n, 3))
    out[:, axis] = 1.0
    return out


def walking(seconds, rate_hz, cadence_spm, amplitude_g=0.3, noise_g=0.01, seed=0):
    """Vertical oscillation at the step frequency: exactly cadence/60 * seconds troughs."""
    n = int(round(seconds * rate_hz))
    t = np.arange(n) / rate_hz
    f = cadence_spm / 60.0
    rng = np.random.default_rng(seed)
    out = rng.normal(0.0, noise_g, (n, 3))
    out[:, 2] += 1.0 + amplitude_g * np.cos(2 * np.pi * f * t)
    out[:, 0] += 0.3 * amplitude_g * np.sin(np.pi * f * t)  # sideways sway at stride frequency
    return out


def brushing(seconds, rate_hz, cadence_spm, roll_hz=0.3, seed=0, stroke_g=0.5, jolt_g=0.0, jolt_spm=60):
    """Toothbrushing: the hand strokes sideways (stroke_g) while the forearm rolls +/-70 degrees, so gravity turns
    around the forearm axis; |a| dips at every stroke reversal, cadence_spm times a minute, as regular as a gait.
    With jolt_g, a sharp jolt along gravity (40 ms) jolt_spm times a minute, as heel strikes jolt |a|."""
    n = int(round(seconds * rate_hz))
    t = np.arange(n) / rate_hz
    rng = np.random.default_rng(seed)
    out = rng.normal(0.0, 0.01, (n, 3))
    roll = 1.2 * np.sin(2 * np.pi * roll_hz * t)
    out[:, 0] += stroke_g * np.sin(np.pi * cadence_spm / 60.0 * t)
    out[:, 1] += np.sin(roll)
    out[:, 2] += np.cos(roll)
    jolts = sum(jolt_g * np.exp(-0.5 * ((t - at) / 0.04) ** 2) for at in np.arange(1.0, seconds - 0.5, 60.0 / jolt_spm))
    return out + jolts[:, None] * out / np.linalg.norm(out, axis=1)[:, None]


def to_counts(g):
    return np.clip(np.rint(g * COUNTS_PER_G), -32768, 32767).astype(np.int16)


def concat(*parts):
    return np.concatenate(parts)


def rising(seconds, rate_hz, cadence_spm, turn_deg, seed=0):
    """Getting up: gravity turns by turn_deg (from the x axis towards z) while the body makes a train of different
    movements, cadence_spm a minute: each dips |a| by its own depth (0.1-0.5 g) around its own level (+/-0.2 g)."""
    n = int(round(seconds * rate_hz))
    t = np.arange(n) / rate_hz
    f = cadence_spm / 60.0
    rng = np.random.default_rng(seed)
    cycle = np.floor(f * t).astype(int)
    depth = rng.uniform(0.1, 0.5, cycle[-1] + 1)[cycle]
    level = rng.uniform(-0.2, 0.2, cycle[-1] + 1)[cycle]
    a = 1.0 + level + depth * np.cos(2 * np.pi * f * t)
    angle = np.radians(turn_deg) * t / seconds
    out = rng.normal(0.0, 0.01, (n, 3))
    out[:, 0] += a * np.cos(angle)
    out[:, 2] += a * np.sin(angle)
    return out


def turning(g, rate_hz, deg_per_s):
    """The signal g on a wrist that turns steadily about the y axis, deg_per_s from its first sample on: a hand
    reaching, lifting or pouring while its owner steps."""
    angle = np.radians(deg_per_s) * np.arange(len(g)) / rate_hz
    c, s = np.cos(angle), np.sin(angle)
    out = g.copy()
    out[:, 0] = c * g[:, 0] - s * g[:, 2]
    out[:, 2] = s * g[:, 0] + c * g[:, 2]
    return out


def stride_locked(seconds, rate_hz, cadence_spm, swing_deg=30, stride_g=0.3, step_g=0.08, seed=0):
    """A wrist walk seen as one trough per stride: the arm swing (+/-swing_deg about y, once per stride) dips |a| by
    stride_g once per stride and each step adds only step_g, too little for a trough of its own: exactly
    cadence/60 * seconds steps, half of them without a trough."""
    n = int(round(seconds * rate_hz))
    t = np.arange(n) / rate_hz
    f_stride = cadence_spm / 120.0
    rng = np.random.default_rng(seed)
    a = 1.0 + stride_g * np.cos(2 * np.pi * f_stride * t) + step_g * np.cos(4 * np.pi * f_stride * t)
    swing = np.radians(swing_deg) * np.sin(2 * np.pi * f_stride * t)
    out = rng.normal(0.0, 0.01, (n, 3))
    out[:, 0] += a * np.sin(swing)
    out[:, 2] += a * np.cos(swing)
    return out



def heel_strikes(seconds, rate_hz, cadence_spm, spike_g=0.35, dip_g=0.12, noise_g=0.02, jitter=0.1, arm_g=0.0, seed=0,
                 weak_g=0.0, weak_every=0, peak_g=0.0, peak_every=0, missing_every=0):
    """A slow walk as a magnitude-only watch records it (x = |a|, y = z = 0): each step a sharp heel-strike spike
    (40 ms) with a dip after it, intervals varying by +/-jitter. With arm_g, one or two broad dips of the swinging
    arm (arm_g/2.4 to arm_g deep, 0.1-0.2 s) at random places in each interval, so the troughs keep no rhythm. With
    weak_every, from the tenth step on two steps in a row of every weak_every strike only weak_g high. With
    peak_every, every peak_every-th interval also holds a sharp arm peak peak_g high, 40-60 % of the way through. With
    missing_every, every missing_every-th strike (from the third) jolts |a| too little to show: no spike.
    Returns the signal and its number of steps."""
    n = int(round(seconds * rate_hz))
    t = np.arange(n) / rate_hz
    rng = np.random.default_rng(seed)
    period = 60.0 / cadence_spm
    strikes = np.cumsum(period * rng.uniform(1 - jitter, 1 + jitter, int(seconds / period) + 2))
    a = np.ones(n) + rng.normal(0.0, noise_g, n)
    for k, s in enumerate(strikes):
        height = weak_g if weak_every and k >= 10 and k % weak_every < 2 else spike_g
        if missing_every and k % missing_every == 2:
            height = 0.0
        a += height * np.exp(-0.5 * ((t - s) / 0.04) ** 2) - dip_g * np.exp(-0.5 * ((t - s - 0.13) / 0.06) ** 2)
        if peak_every and k % peak_every == peak_every - 1:
            a += peak_g * np.exp(-0.5 * ((t - s - period * rng.uniform(0.4, 0.6)) / 0.04) ** 2)
        if arm_g:
            for at in s + period * rng.uniform(0.2, 0.9, rng.integers(1, 3)):
                a -= rng.uniform(arm_g / 2.4, arm_g) * np.exp(-0.5 * ((t - at) / rng.uniform(0.05, 0.1)) ** 2)
    out = np.zeros((n, 3))
    out[:, 0] = a
    return out, int(((strikes > 0.1) & (strikes < seconds - 0.1)).sum())


def uneven_steps(seconds, rate_hz, cadence_spm, uneven=0.2, depth_g=0.25, noise_g=0.02, seed=0):
    """A magnitude-only walk whose troughs fall unevenly in the stride: every other one comes `uneven` of a step late,
    so the intervals alternate (1 + uneven) and (1 - uneven) step periods, as a slow wrist walk's often do. Returns
    the signal and its number of steps."""
    period = 60.0 / cadence_spm
    k = np.arange(int(seconds / period) + 1)
    troughs = (k + 0.5 + uneven * (k % 2)) * period
    troughs = troughs[troughs < seconds - 0.2]
    return trough_train(troughs, seconds, rate_hz, depth_g, noise_g, seed), len(troughs)


def trough_train(troughs, seconds, rate_hz, depth_g=0.25, noise_g=0.02, seed=0):
    """A magnitude-only signal (x = |a|, y = z = 0) with one trough of depth_g at each of the times `troughs` (s)."""
    n = int(round(seconds * rate_hz))
    t = np.arange(n) / rate_hz
    rng = np.random.default_rng(seed)
    a = np.ones(n) + rng.normal(0.0, noise_g, n)
    for s in troughs:
        a -= depth_g * np.exp(-0.5 * ((t - s) / 0.08) ** 2)
    out = np.zeros((n, 3))
    out[:, 0] = a
    return out


def cycled_troughs(seconds, rate_hz, period_s, depths_g, crests_g, jitter=0.08, noise_g=0.02, seed=0):
    """A magnitude-only signal (x = |a|, y = z = 0) with a trough every period_s (+/- jitter of it), their depths cycling
    through depths_g, and half a period after each a sharp crest cycling through crests_g: a walk whose waveform repeats
    every stride when both cycles span a stride, arm work keeping a walk's intervals when they do not. Returns the signal
    and its number of troughs."""
    rng = np.random.default_rng(seed)
    troughs = np.cumsum(period_s * (1 + rng.uniform(-jitter, jitter, int(seconds / period_s))))
    troughs = troughs[troughs < seconds - 0.3]
    n = int(round(seconds * rate_hz))
    t = np.arange(n) / rate_hz
    a = np.ones(n) + rng.normal(0.0, noise_g, n)
    for k, s in enumerate(troughs):
        a -= depths_g[k % len(depths_g)] * np.exp(-0.5 * ((t - s) / 0.08) ** 2)
        a += crests_g[k % len(crests_g)] * np.exp(-0.5 * ((t - s - period_s / 2) / 0.05) ** 2)
    out = np.zeros((n, 3))
    out[:, 0] = a
    return out, len(troughs)


def long_wear_csv(path, hours, rate_hz=52.0):
    """A recording of `hours` as a t,x,y,z CSV: 10 minutes walking at 110 steps/min, 5 still, over and over;
    written a quarter hour at a time, so hours of it never sit in the test's memory."""
    with open(path, "w") as fh:
        fh.write("t,x,y,z\n")
        for quarter in range(int(hours * 4)):
            g = concat(walking(600, rate_hz, 110, seed=quarter), still(300, rate_hz))
            t = quarter * 900 + np.arange(len(g)) / rate_hz
            np.savetxt(fh, np.column_stack((t, g)), fmt="%.4f", delimiter=",")
    return str(path)
