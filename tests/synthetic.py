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


def brushing(seconds, rate_hz, cadence_spm, roll_hz=0.3, seed=0):
    """Toothbrushing: the hand strokes sideways (0.5 g) while the forearm rolls +/-70 degrees, so gravity turns
    around the forearm axis; |a| dips at every stroke reversal, cadence_spm times a minute, as regular as a gait."""
    n = int(round(seconds * rate_hz))
    t = np.arange(n) / rate_hz
    rng = np.random.default_rng(seed)
    out = rng.normal(0.0, 0.01, (n, 3))
    roll = 1.2 * np.sin(2 * np.pi * roll_hz * t)
    out[:, 0] += 0.5 * np.sin(np.pi * cadence_spm / 60.0 * t)
    out[:, 1] += np.sin(roll)
    out[:, 2] += np.cos(roll)
    return out


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
