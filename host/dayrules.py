"""The day rules: which day is valid, pace names, MET weights, HUNT's bands, and one day's numbers from
its minutes. Works on plain minute values from any source; never reads a database or a file."""
from .firmware import detector, store

VALID_WORN_H = 10  # a valid day is worn >= 10 h, as in HUNT's accelerometer analyses
VALID_WORN_MIN = 60 * VALID_WORN_H
VALID_RULE = f"worn >= {VALID_WORN_H} h"
MAX_WALK_S_PER_MIN = 60
MAX_STEPS_PER_MIN = 240  # 4 steps/s: above a sprinter's cadence, so more is a fault, not a walk
PACE_NAMES = {detector.PACE_NONE: "none", detector.PACE_SLOW: "slow", detector.PACE_MODERATE: "moderate",
              detector.PACE_BRISK: "brisk"}
# HUNT's MET values for slow, moderate and brisk walking; walking seconds of a minute without a pace
# class (its steps fell in the neighbouring minute) count as slow.
MET_OF_PACE = {detector.PACE_NONE: 2.8, detector.PACE_SLOW: 2.8, detector.PACE_MODERATE: 3.8, detector.PACE_BRISK: 4.8}
# HUNT (Haddadj et al., JAMA Netw Open 2025;8(6):e2515592): risk ratios of chronic low back pain over
# ~4 years by mean daily walking minutes, against < 78 min/day. Observational: an association.
HUNT_BANDS = ((0, 78, "< 78", 1.0), (78, 101, "78-100", 0.87), (101, 125, "101-124", 0.77),
              (125, None, ">= 125", 0.76))
HUNT_SOURCE = ("HUNT cohort, chronic low back pain risk vs < 78 min/day (Haddadj et al., JAMA Netw Open 2025); "
               "observational")


def hunt_band(mean_walking_min):
    """{"range", "risk_ratio", "source"} of the band a mean daily walking time falls in."""
    for low, high, label, risk_ratio in HUNT_BANDS:
        if high is None or mean_walking_min < high:
            return {"range": label, "risk_ratio": risk_ratio, "source": HUNT_SOURCE}


def mean_of_valid(days):
    """{"valid_days", "mean_walking_min", "band"} over the day rows (Day.numbers()) that are valid; the mean
    and band are None without a valid day."""
    valid = [d["walking_min"] for d in days if d["valid"]]
    mean = round(sum(valid) / len(valid), 1) if valid else None
    return {"valid_days": len(valid), "mean_walking_min": mean, "band": hunt_band(mean) if valid else None}


def impossible_minute(walk_s, steps):
    """Why one minute's walking could not have happened, or None when it could."""
    if walk_s > MAX_WALK_S_PER_MIN:
        return f"{walk_s} s of walking in one minute (at most {MAX_WALK_S_PER_MIN})"
    if steps > MAX_STEPS_PER_MIN:
        return f"{steps} steps in one minute (at most {MAX_STEPS_PER_MIN}, 4 steps/s)"
    return None


def worn(movement_code):
    """Whether a minute of this movement code (store.movement_code) was worn: the store's own rule."""
    return store.octave(movement_code) >= store.WORN_OCTAVE


def movement_mg(movement_code):
    """The lower edge, in mg, of the bin a movement code (store.movement_code) stands for: its inverse to
    within an eighth of an octave."""
    if not movement_code:
        return 0
    exponent, eighth = divmod(movement_code - 1, 8)
    return ((8 + eighth) << exponent) >> 3


def met_index(pace_walk_s, walk_s):
    """The MET values of the paces averaged over a day's walking seconds (pace_walk_s: walking seconds
    per pace class), or None without walking."""
    if not walk_s:
        return None
    return round(sum(MET_OF_PACE[p] * pace_walk_s[p] for p in MET_OF_PACE) / walk_s, 2)


class Day:
    """One day's totals, fed minute by minute (add_minute) or, for a record whose minutes the device
    dropped, by its summary (add_summary); numbers() gives the day's row."""

    def __init__(self):
        self.walk_s = 0
        self.steps = 0
        self.pace_min = [0] * len(PACE_NAMES)  # minutes per pace class
        self.pace_walk_s = [0] * len(PACE_NAMES)  # walking seconds per pace class
        self.worn_min = 0
        self.recorded_min = 0
        self.bouts = 0
        self.longest_bout_s = 0
        self.estimated = False  # any minute placed on the calendar by estimate

    def add_minute(self, walk_s, steps, pace, movement_code):
        self.walk_s += walk_s
        self.steps += steps
        self.pace_min[pace] += 1
        self.pace_walk_s[pace] += walk_s
        self.worn_min += worn(movement_code)
        self.recorded_min += 1

    def add_summary(self, walk_s, steps, slow_min, moderate_min, brisk_min, worn_min, recorded_min):
        """A record's summary values; its walking seconds are split over the paces by their minutes."""
        pace_min = {detector.PACE_SLOW: slow_min, detector.PACE_MODERATE: moderate_min,
                    detector.PACE_BRISK: brisk_min}
        walking_min = max(1, slow_min + moderate_min + brisk_min)
        self.walk_s += walk_s
        self.steps += steps
        for pace, minutes in pace_min.items():
            self.pace_min[pace] += minutes
            self.pace_walk_s[pace] += walk_s * minutes // walking_min
        self.worn_min += worn_min
        self.recorded_min += recorded_min

    def numbers(self, valid_worn_min=VALID_WORN_MIN):
        """The day's row without its date: the fields `walkdose report --json` documents. A day with no recorded
        minute has no numbers (None, JSON null): missing data is not a day of zero walking."""
        if not self.recorded_min:
            return {"walking_min": None, "steps": None, "pace_min": None, "met_index": None, "bouts": None,
                    "longest_bout_s": None, "worn_min": None, "recorded_min": 0, "valid": False, "estimated": False}
        return {"walking_min": round(self.walk_s / 60, 1), "steps": self.steps,
                "pace_min": {name: self.pace_min[p] for p, name in PACE_NAMES.items() if p != detector.PACE_NONE},
                "met_index": met_index(self.pace_walk_s, self.walk_s), "bouts": self.bouts,
                "longest_bout_s": self.longest_bout_s, "worn_min": self.worn_min,
                "recorded_min": self.recorded_min, "valid": self.worn_min >= valid_worn_min,
                "estimated": self.estimated}
