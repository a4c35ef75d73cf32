"""Walking detector: int16 accelerometer samples in; steps, walking segments, bouts and minute records out.

This file is the specification of what walkdose counts, and the only detector: MicroPython runs it on the boards and
Cython compiles it for the host (host/detector.pxd types it). Integers only, every per-sample intermediate within
+/-2^29 (31-bit small ints on the boards), no allocation after __init__. It knows nothing of I2C, clocks, files or
serial links. Why each rule exists, and the measurements behind every constant: docs/detector.md.

Time is (minute, pos): `minute` counts detector minutes since start, `pos` is the sample index inside it.
Every stored position is relative to the start of the current minute and is shifted back by one minute at
each rollover, so nothing grows without bound however long the board runs.
"""
from array import array

from .compat import const, ptr16, ptr32

try:
    import micropython
except ImportError:
    from . import compat as micropython

# Events, EV_WORDS ints each in `events`: kind, minute, then up to four fields (positions are samples
# relative to the start of `minute`, negative for earlier minutes).
EV_STEP = const(1)  # pos
EV_WALK = const(2)  # start_pos, end_pos, steps: one stretch of walking as the classifier saw it
EV_BOUT = const(3)  # start_pos, end_pos, steps, cadence_spm: >= BOUT_MIN_MS with gaps <= BOUT_GAP_MS
EV_MINUTE = const(4)  # walk_s, steps, pace, movement_mg: the record of minute `minute`
EV_WORDS = const(6)
EV_CAP = const(128)
# One sample can emit at a due point (at most N_CONFIRM_SLOW + 2 * BACKFILL_MAX + 6 events), a heel-strike spike (at
# most N_CONFIRM_SLOW) and a trough (at most N_CONFIRM_SLOW + 2 * BACKFILL_MAX + 2); feed() returns after any sample that
# leaves fewer slots than that.
EV_HEADROOM = const(64)

# Pace classes stand in for HUNT's slow/moderate/brisk walking (2.8/3.8/4.8 MET); CADENCE-Adults puts
# ~100 steps/min at 3 MET and 120 at 5 MET in adults over 60.
PACE_NONE = const(0)
PACE_SLOW = const(1)
PACE_MODERATE = const(2)
PACE_BRISK = const(3)
MODERATE_FROM_SPM = const(100)  # steps/min
BRISK_FROM_SPM = const(120)  # steps/min

# Signal chain: |a| -> two-pole low-pass -> depth below a slow baseline -> its peaks (acceleration troughs, which
# come once per step where the wrist's tallest peak comes once per stride) -> a regular rhythm of them -> steps.
LP_CUTOFF_MHZ = const(3000)  # low-pass cutoff, nominal (w/(1+w) per pole): keeps the step rhythm, drops hand jitter
BASELINE_TAU_MS = const(640)  # baseline time constant: removes gravity and posture, passes 1 Hz (60 steps/min)
LEVEL_TAU_MS = const(1280)  # time constant of the mean |dynamic acceleration| the hysteresis follows
THR_MIN_MG = const(25)  # shallowest trough that can be a step: typing and vibration stay below
SWING_EIGHTHS = const(2)  # hysteresis between turns: THR_MIN_MG plus 2/8 of the recent mean |motion|
STEP_MIN_MS = const(270)  # troughs no further apart are one movement, the deepest counts (222 steps/min)
STEP_MAX_MS = const(1500)  # longest step interval: slower is not a gait (40 steps/min)
N_CONFIRM = const(5)  # troughs of a regular rhythm before any of them count as steps
N_RESUME = const(3)  # ... within BOUT_GAP_MS of earlier walking (a turn, a door, a kerb)
N_CONFIRM_SLOW = const(8)  # ... slower than SLOW_STEP_MS: vehicles and gestures sway slowly
SLOW_STEP_MS = const(750)  # step interval above which a rhythm is slow (80 steps/min)
# A slow walk's wrist can swing between heel strikes, so its troughs fall anywhere; each strike jolts |a| alone.
SPIKE_MG = const(100)  # |a| this far over its baseline is a heel-strike spike: a second stream of candidates ...
SPIKE_GAP_EIGHTHS = const(5)  # ... for slow rhythms only, so spikes closer than 5/8 of SLOW_STEP_MS break a run
SPIKE_MAX_MS = const(2000)  # ... and as far apart as this: the slowest walkers' heel strikes (30 steps/min)
SPIKE_LOW_MG = const(55)  # ... and from here while they count a walk, if where the walk expects its next step
BUSY_EIGHTHS = const(2)  # a slow run of spikes is a walk if |a| leaves its baseline by half a spike under 2/8 of the time
SPIKE_FAST_EIGHTHS = const(7)  # a spike walk faster than 7/8 of SLOW_STEP_MS (91 steps/min) is the troughs' to count
REGULAR_EIGHTHS = const(3)  # consecutive intervals of a starting rhythm differ by at most 3/8
DOUBLE_FROM_EIGHTHS = const(13)  # while walking, an interval of 13/8..19/8 of the step interval holds a hidden step
DOUBLE_TO_EIGHTHS = const(19)  # ... even past STEP_MAX_MS: a weak step must not end a slow walk
STEP_QUANTUM_MS = const(20)  # the walker's step interval moves in these steps: the same tracking at every rate
BACKFILL_MIN = const(2)  # uncounted peaks keeping a new rhythm's cadence that count too (one is often a posture shift)
BACKFILL_MAX = const(8)  # ... looked back at, at most
# A walk's first step from standing is shallow: under half as deep as the steps after it, often under THR_MIN_MG.
FIRST_DEPTH_EIGHTHS = const(4)  # a first counted trough as deep as 4/8 of the rhythm's is a second step: the first ...
# ... is the hysteresis turn too shallow to be a candidate one regular interval before it, if there is one.
FIRST_LEAD_EIGHTHS = const(4)  # the walk starts 4/8 of a step interval before its first trough: the first toe-off
# recent: a ring of the last RECENT candidates' positions, then their depths, then the faint trough before each.
RECENT = const(N_CONFIRM_SLOW + BACKFILL_MAX)
RECENT_DEPTH = const(RECENT)
RECENT_FAINT = const(2 * RECENT)
# Arm work (brushing, combing) moves the wrist sideways while turning it; walking does one or the other.
ARM_EIGHTHS = const(3)  # sideways motion over 3/8 of the trough depth ...
TURN_MIN_MG = const(100)  # ... while gravity moves over this per stride: arm work
ARM_HIGH_EIGHTHS = const(8)  # sideways over the whole depth (brushing's strokes) ...
TURN_HIGH_MG = const(50)  # ... turning over this: arm work too
ARM_HIGH_RATE_MHZ = const(50000)  # below this rate ARM_HIGH_EIGHTHS grows as rate falls: walks sway more sideways there
ARM_WIDE_EIGHTHS = const(2)  # sideways over 2/8 ...
TURN_WIDE_MG = const(200)  # ... turning over this ...
ACROSS_EIGHTHS = const(6)  # ... with most intervals' motion across gravity >= 6/8 of that along it: the hand circles
# A car's sway at the wrist can be as regular as gait, but it is shallow and wanders from stride to stride.
SHALLOW_MG = const(80)  # mean trough depth under which a rhythm may be a vehicle
WANDER_EIGHTHS = const(3)  # depth and mean |a| both moving over 3/8 of the depth per stride: not a walker
FLAT_SIDE_MG = const(4)  # shallow and sideways under this per interval: a car's heave, which must last N_FLAT
N_FLAT = const(7)  # troughs a flat or posture-changing rhythm needs (it waits, it is never rejected)
POSTURE_MG = const(900)  # gravity moved over this across a rhythm ...
POSTURE_WANDER_EIGHTHS = const(2)  # ... wandering by 2/8: getting into or out of bed, waits for N_FLAT
TRIAL_TURN_MG = const(300)  # a new walk turning the wrist over this per stride is on trial ...
TRIAL_STEPS = const(8)  # ... its steps held until it has this many, forgotten if it ends sooner (eating, pouring)
# Arm work seen in |a| alone (tying laces, dressing) keeps a walk's intervals but not its waveform from stride to stride.
RANGE_MOVE_EIGHTHS = const(5)  # an interval whose trough-to-crest range moved over 5/8 (of both ranges' mean) since
# a stride before, or that holds a second hysteresis turn, is erratic ...
ERRATIC_EIGHTHS = const(5)  # ... and a walk whose running share of them is over 5/8 is on trial: its held steps count
# once the share falls back, each TRIAL_STEPS held while it stays over are forgotten
# A swinging arm can make the stride's trough the only one deep enough to see; a slow walk's troughs fall unevenly.
STRIDE_FROM_MS = const(800)  # a rhythm this slow or slower may be found at one trough per stride ...
STRIDE_ALT_EIGHTHS = const(64)  # ... if its interval means move under 64/8 of its sideways motion: two steps each
STRIDE_SIDE_MG = const(6)  # ... and it moves sideways at least this: under it is |a|'s jerk term, not a swinging arm
STRIDE_REGULAR_EIGHTHS = const(1)  # alternating short/long intervals, each within 1/8 of the one a stride before, go on
BOUT_MIN_MS = const(10000)  # a bout: continuous walking at least this long ...
BOUT_GAP_MS = const(3000)  # ... with no gap longer than this
JERK_MS = const(20)  # |a| is one Newton step from |a| this long ago: the same jerk term at every rate
M_MAX = const(14190)  # |(x, y, z) >> 2| can reach sqrt(3) * 8192; a Newton step from far below overshoots
A3_Q9_PER_G = const(4096000)  # one g as a3 (mg in Q3: 8000) times 2^9
# win_sums: the running sums of the interval since win_start.
WIN_M = const(0)
WIN_X = const(1)
WIN_Y = const(2)
WIN_Z = const(3)
WIN_Q = const(4)
WIN_TURNS = const(5)  # hysteresis turns since the last candidate
WIN_CREST = const(6)  # the highest crest since the last candidate: |a| over its baseline (mg Q3), at least 0, as
# feed() reads it through viper's ptr32(), unsigned on a 64-bit port
WIN_WORDS = const(7)
# ... and after them, kept from candidate to candidate: the last two trough-to-crest ranges (mg Q3) and the running
# share of erratic intervals (Q8); one array, as every attribute slows each lookup on a board.
WIN_RANGE1 = const(7)
WIN_RANGE2 = const(8)
WIN_ERRATIC = const(9)
# chain: the per-sample chain's settings and its state between feed() calls, which only feed() reads (one attribute
# for sixteen). Never negative: viper's ptr32() reads words unsigned on a 64-bit port.
CH_K_LP = const(0)  # the low-pass's coefficient (Q12)
CH_KB = const(1)  # the baseline's time constant as a shift
CH_KA = const(2)  # the level's time constant as a shift
CH_THR_MIN = const(3)  # THR_MIN_MG in mg Q3
CH_M_N = const(4)  # |a| values in m_ring
CH_M_I = const(5)  # the oldest of them
CH_LP1 = const(6)  # the low-pass, first pole and second (mg Q3)
CH_LP2 = const(7)
CH_BSUM = const(8)  # the baseline, << kb
CH_ASUM = const(9)  # the mean |depth below the baseline|, << ka
CH_MV = const(10)  # the minute's movement so far: the sum of that depth (mg)
CH_RISING = const(11)  # 1 while the hysteresis looks for a peak, 0 for a valley
CH_SPIKE_GAP = const(12)  # the shortest interval of a run of heel-strike spikes (samples)
CH_SPIKE_AMP = const(13)  # the highest spike since the last (mg Q3 over the baseline; 0: none)
CH_SPIKE_HALF = const(14)  # half the last spike's height: |a| further off its baseline is busy
CH_BUSY = const(15)  # busy samples since the last spike
CH_WORDS = const(16)
# Positions stop ageing here (2^28 samples back, 30 days at 104 Hz): nothing that old still counts, and an
# idle board's stale positions stay small ints.
POS_FLOOR = const(-268435456)


def samples_for_ms(ms, rate_mhz):
    """Whole samples in ms milliseconds at rate_mhz, rounded to nearest (start-up only)."""
    return (ms * rate_mhz + 500000) // 1000000


def samples_over_ms(ms, rate_mhz):
    """Fewest whole samples spanning more than ms milliseconds at rate_mhz (start-up only)."""
    return ms * rate_mhz // 1000000 + 1


def shift_for_ms(ms, rate_mhz):
    """The k whose 2^k samples come closest to ms milliseconds: time constant of a shift-only average."""
    target_x1000 = ms * rate_mhz // 1000  # samples x 1000
    k = 0
    span_x1000000 = 2000000  # 2^(k+1) samples x 10^6, a variable: a shifted literal is a 32-bit int in C
    while span_x1000000 <= target_x1000 * 1414:  # 2^(k+1) <= target * sqrt(2)
        k += 1
        span_x1000000 <<= 1
    return k


def lowpass_q12(cutoff_mhz, rate_mhz):
    """One-pole smoothing coefficient in Q12: w/(1+w) with w = 2*pi*fc/fs (close to 1-exp(-w) below fs/6)."""
    w_num = 6283 * cutoff_mhz
    return 4096 * w_num // (1000 * rate_mhz + w_num)


def aged(pos, spm, floor):
    """pos moved one minute back at a rollover, no further back than floor."""
    return pos - spm if pos - spm > floor else floor


def age_all(ring, first, end, spm):
    """ring[first:end] moved one minute back as aged() moves one position (a loop here, not a call per position)."""
    for k in range(first, end):
        pos = ring[k] - spm
        ring[k] = pos if pos > POS_FLOOR else POS_FLOOR


def apart(ax, ay, az, bx, by, bz):
    """How far two mean vectors lie apart, |ax - bx| + |ay - by| + |az - bz| (per pending peak)."""
    d = ax - bx if ax > bx else bx - ax
    d += ay - by if ay > by else by - ay
    d += az - bz if az > bz else bz - az
    return d


def pace_of(steps, walk_samples, spm):
    """Pace class of a minute from its steps and walking samples (cadence while walking)."""
    if steps == 0 or walk_samples == 0:
        return PACE_NONE
    cadence = steps * spm // walk_samples
    if cadence >= BRISK_FROM_SPM:
        return PACE_BRISK
    if cadence >= MODERATE_FROM_SPM:
        return PACE_MODERATE
    return PACE_SLOW


class Detector:
    def __init__(self, rate_mhz, counts_per_g):
        if rate_mhz < 10000 or rate_mhz > 200000 or rate_mhz * 60 % 1000:
            raise ValueError("rate_mhz must be 10000..200000 with a whole number of samples per minute")
        if counts_per_g < 1024 or counts_per_g > 16384:
            raise ValueError("counts_per_g must be 1024..16384 (e.g. 4096 for +/-8 g)")
        self.rate_mhz = rate_mhz
        self.counts_per_g = counts_per_g
        self.spm = rate_mhz * 60 // 1000
        # |a| is computed on counts >> 2 so that three squares stay below 3 * 2^26.
        self.mg_q9 = A3_Q9_PER_G * 4 // counts_per_g
        chain = array("i", [0] * CH_WORDS)
        chain[CH_K_LP] = lowpass_q12(LP_CUTOFF_MHZ, rate_mhz)
        chain[CH_KB] = shift_for_ms(BASELINE_TAU_MS, rate_mhz)
        chain[CH_KA] = shift_for_ms(LEVEL_TAU_MS, rate_mhz)
        chain[CH_THR_MIN] = THR_MIN_MG << 3
        self.d_min = samples_over_ms(STEP_MIN_MS, rate_mhz)
        self.d_max = samples_for_ms(STEP_MAX_MS, rate_mhz)
        self.bout_min = samples_for_ms(BOUT_MIN_MS, rate_mhz)
        self.bout_gap = samples_for_ms(BOUT_GAP_MS, rate_mhz)
        self.d_slow = samples_for_ms(SLOW_STEP_MS, rate_mhz)
        self.d_stride = samples_for_ms(STRIDE_FROM_MS, rate_mhz)
        self.d_spike_max = samples_for_ms(SPIKE_MAX_MS, rate_mhz)
        chain[CH_SPIKE_GAP] = self.d_slow * SPIKE_GAP_EIGHTHS >> 3
        self.arm_high = max(ARM_HIGH_EIGHTHS, ARM_HIGH_EIGHTHS * ARM_HIGH_RATE_MHZ // rate_mhz)
        self.quantum16 = samples_for_ms(STEP_QUANTUM_MS * 16, rate_mhz)  # in 1/16 samples
        # (|a| - 1 g)^2, |a| - 1 g clamped to +/-1 g, is summed >> kq: at most 2^13 per sample, 2^26 over a minute at 104 Hz.
        self.kq = 7
        while ((counts_per_g >> 2) * (counts_per_g >> 2) >> self.kq) > 8192:
            self.kq += 1
        # |a| of the last JERK_MS, oldest at m_i: each Newton step starts from there (2 at 100 Hz, 1 at 50 and below).
        chain[CH_M_N] = max(1, samples_for_ms(JERK_MS, rate_mhz))
        self.m_ring = array("i", [0] * chain[CH_M_N])
        self.chain = chain
        # Sums of |a|, x, y, z (counts >> 2) and of (|a| - 1 g)^2 >> kq since the interval began at win_start: an
        # array, so feed() hands them to candidate() and reach_due() by plain stores instead of attribute lookups.
        self.win_sums = array("i", [0] * (WIN_ERRATIC + 1))
        # A minute is reported this long after it ends: a rhythm still being confirmed (troughs d_max apart, spikes
        # d_spike_max), and the interval before its first step, can reach back this far (back-filled steps stop short of
        # a reported minute); so can the steps of a walk on trial, held over at most TRIAL_STEPS - 1 intervals (under
        # 9 d_max), and a long interval candidate() holds while walking until the next trough or the walk's end.
        self.lag = (N_CONFIRM_SLOW + 2) * self.d_spike_max
        self.events = array("i", [0] * (EV_CAP * EV_WORDS))
        self.n_events = 0
        self.pend = array("i", [0] * N_CONFIRM_SLOW)
        # The heel-strike spikes of a regular run, oldest first (spk_n of them); then, from N_CONFIRM_SLOW, the samples of
        # each one's interval (since the spike before) with |a| off its baseline by half that spike. One array, one lookup.
        self.spk = array("i", [0] * (2 * N_CONFIRM_SLOW))
        # Per pending peak: its depth and the sideways motion of its interval (mg Q3), the turn of its interval (mg).
        self.pend_depth = array("i", [0] * N_CONFIRM_SLOW)
        self.pend_side = array("i", [0] * N_CONFIRM_SLOW)
        self.pend_turn = array("i", [0] * N_CONFIRM_SLOW)
        # ... and how far its mean |a| moved since a stride earlier (mg Q3).
        self.pend_wander = array("i", [0] * N_CONFIRM_SLOW)
        # ... and the mean x, y, z of its interval (counts >> 2): where gravity was.
        self.pend_gx = array("i", [0] * N_CONFIRM_SLOW)
        self.pend_gy = array("i", [0] * N_CONFIRM_SLOW)
        self.pend_gz = array("i", [0] * N_CONFIRM_SLOW)
        # ... and the variance of its |a| and the variance across gravity of its interval ((counts >> 2)^2 >> kq).
        self.pend_vm = array("i", [0] * N_CONFIRM_SLOW)
        self.pend_vx = array("i", [0] * N_CONFIRM_SLOW)
        # The last step candidates (a ring ending at the newest), for back-filling; and the steps found there,
        # newest first, hidden ones included.
        # Each also keeps its depth and the last trough too shallow to be a candidate since the one before (POS_FLOOR:
        # none): the walk's first step may be that one. One array, as every attribute slows each lookup on a board.
        self.recent = array("i", [0] * (3 * RECENT))
        self.backfilled = array("i", [0] * (2 * BACKFILL_MAX + 1))
        # The steps of a walk on trial and their intervals, held until it has TRIAL_STEPS; then, for an erratic walk,
        # its last counted step (or the last step it forgot, where a new stretch would start).
        self.trial_at = array("i", [0] * (TRIAL_STEPS + 1))
        self.trial_d = array("i", [0] * TRIAL_STEPS)
        self.reset()

    def reset(self):
        """Forget everything: the state of a board that has just booted."""
        one_g = self.counts_per_g >> 2
        chain = self.chain
        for i in range(chain[CH_M_N]):
            self.m_ring[i] = one_g
        chain[CH_M_I] = 0
        lp = one_g * self.mg_q9 >> 9
        chain[CH_LP1] = lp
        chain[CH_LP2] = lp
        chain[CH_BSUM] = lp << chain[CH_KB]
        chain[CH_ASUM] = 0
        chain[CH_MV] = 0
        chain[CH_RISING] = 1
        chain[CH_SPIKE_AMP] = 0
        chain[CH_SPIKE_HALF] = 0
        chain[CH_BUSY] = 0
        self.spike_pos = 0
        self.spike_last = 0
        self.spk_n = 0
        self.peak = 0
        self.peak_pos = 0
        self.valley = 0
        self.held_pos = 0
        self.held_amp = 0
        # The interval's start (its sums are win_sums); the mean x, y, z and |a| (mg Q3) of the last two intervals.
        self.win_start = 0
        self.clear_sums()
        self.win_sums[WIN_RANGE1] = 0
        self.win_sums[WIN_RANGE2] = 0
        self.win_sums[WIN_ERRATIC] = 0
        self.gx1 = 0
        self.gy1 = 0
        self.gz1 = 0
        self.gx2 = 0
        self.gy2 = 0
        self.gz2 = 0
        self.am1 = 0
        self.am2 = 0
        # The rhythm's move of the interval mean since the interval before and its sideways motion (mg Q3): set at
        # confirmation, then moved a quarter of the way by each walking interval from STRIDE_FROM_MS on. Is it a stride?
        self.alt_avg = 0
        self.side_avg = 0
        self.minute = 0
        self.pos = -1
        self.due = self.spm
        self.has_prev = 0
        self.cand_pos = -2 * self.d_max
        self.d_prev = 0
        self.d_prev2 = 0  # the pending intervals before d_prev (0: none)
        self.d_prev3 = 0
        self.d_step = 0
        self.d_step16 = 0  # d_step in 1/16 samples: the tracker; d_step is it rounded
        self.run_n = 0
        self.walking = 0  # 1: a walk the troughs confirmed; 2: one the heel-strike spikes confirmed (spike())
        self.trial = 0  # 1: a new walk turning the wrist (TRIAL_TURN_MG); 2: an erratic walk (ERRATIC_EIGHTHS)
        self.trial_n = 0
        self.seg_start = 0
        self.seg_end = 0
        self.seg_steps = 0
        self.bout_start = 0
        self.bout_end = 0
        self.bout_steps = 0
        self.cur_walk = 0
        self.cur_steps = 0
        self.prev_walk = 0
        self.prev_steps = 0
        self.prev_move = 0
        self.recent_next = 0
        self.recent_n = 0
        for k in range(RECENT_FAINT, RECENT_FAINT + RECENT):
            self.recent[k] = POS_FLOOR
        self.veto_pos = POS_FLOOR  # the last peak a check rejected: back-filling never reaches it
        self.arm_at = POS_FLOOR  # the last trough at which arm_work() rejected a rhythm: no spike run spans it
        self.double_at = POS_FLOOR  # end of a long interval candidate() holds (POS_FLOOR: none); it began at seg_end
        self.n_events = 0

    @micropython.viper
    def feed(self, samples, start: int, n: int) -> int:
        """Detect over samples[start:start+n] (x, y, z interleaved int16 counts). Returns how many samples
        were consumed (n unless the event buffer filled: call again with the rest after reading events).
        Viper: the loop's locals are machine words (32-bit on a board), safe because every intermediate stays
        within +/-2^29; ptr16 reads the words unsigned, so each is sign-extended as it is read."""
        if start < 0 or n < 0 or 3 * (start + n) > int(len(samples)):
            raise IndexError("feed: samples[start:start+n] is outside the buffer")
        p = ptr16(samples)
        self.n_events = 0
        ev_limit = EV_CAP - EV_HEADROOM
        mg_q9 = int(self.mg_q9)
        chain = ptr32(self.chain)
        k_lp = chain[CH_K_LP]
        kb = chain[CH_KB]
        ka = chain[CH_KA]
        thr_min = chain[CH_THR_MIN]
        m_ring = ptr32(self.m_ring)
        m_n = chain[CH_M_N]
        m_i = chain[CH_M_I]
        lp1 = chain[CH_LP1]
        lp2 = chain[CH_LP2]
        bsum = chain[CH_BSUM]
        asum = chain[CH_ASUM]
        mv = chain[CH_MV]
        rising = chain[CH_RISING]
        spike_gap = chain[CH_SPIKE_GAP]
        spike_amp = chain[CH_SPIKE_AMP]
        spike_half = chain[CH_SPIKE_HALF]
        busy = chain[CH_BUSY]
        spike_min = SPIKE_LOW_MG << 3 if int(self.walking) == 2 else SPIKE_MG << 3
        spike_pos = int(self.spike_pos)
        spike_last = int(self.spike_last)
        peak = int(self.peak)
        valley = int(self.valley)
        peak_pos = int(self.peak_pos)
        pos = int(self.pos)
        due = int(self.due)
        held_pos = int(self.held_pos)
        held_amp = int(self.held_amp)
        d_min = int(self.d_min)
        win = ptr32(self.win_sums)
        sum_m = win[WIN_M]
        sum_x = win[WIN_X]
        sum_y = win[WIN_Y]
        sum_z = win[WIN_Z]
        sum_q = win[WIN_Q]
        one_g = int(self.counts_per_g) >> 2
        kq = int(self.kq)
        j = 3 * start
        done = n
        full = 0
        for i in range(n):
            pos += 1
            if pos == due:
                self.pos = pos
                self.peak_pos = peak_pos
                self.held_pos = held_pos
                self.held_amp = held_amp
                self.spike_pos = spike_pos
                self.spike_last = spike_last
                win[WIN_M] = sum_m
                win[WIN_X] = sum_x
                win[WIN_Y] = sum_y
                win[WIN_Z] = sum_z
                win[WIN_Q] = sum_q
                mv = int(self.reach_due(mv))
                if int(self.n_events) > ev_limit:
                    full = 1
                if busy > spike_gap << 8:
                    busy = spike_gap << 8  # no spike for minutes: any interval it ends is too long to count
                pos = int(self.pos)
                due = int(self.due)
                peak_pos = int(self.peak_pos)
                held_pos = int(self.held_pos)
                held_amp = int(self.held_amp)
                spike_pos = int(self.spike_pos)
                spike_last = int(self.spike_last)
                spike_min = SPIKE_LOW_MG << 3 if int(self.walking) == 2 else SPIKE_MG << 3
                sum_m = win[WIN_M]
                sum_x = win[WIN_X]
                sum_y = win[WIN_Y]
                sum_z = win[WIN_Z]
                sum_q = win[WIN_Q]
            x = ((p[j] ^ 0x8000) - 0x8000) >> 2
            y = ((p[j + 1] ^ 0x8000) - 0x8000) >> 2
            z = ((p[j + 2] ^ 0x8000) - 0x8000) >> 2
            j += 3
            m2 = x * x + y * y + z * z
            m = m_ring[m_i]
            m = (m + m2 // m + 1) >> 1
            if m > M_MAX:
                m = M_MAX
            m_ring[m_i] = m
            m_i += 1
            if m_i == m_n:
                m_i = 0
            sum_m += m
            sum_x += x
            sum_y += y
            sum_z += z
            q = m - one_g
            if q > one_g:
                q = one_g
            sum_q += q * q >> kq
            a3 = m * mg_q9 >> 9
            lp1 += (a3 - lp1) * k_lp >> 12
            lp2 += (lp1 - lp2) * k_lp >> 12
            bsum += lp2 - (bsum >> kb)
            base = bsum >> kb
            hp = base - lp2
            over = a3 - base
            if over > spike_half or -over > spike_half:
                busy += 1
            if over > spike_amp:
                if over > spike_min:
                    spike_amp = over
                    spike_pos = pos
            elif spike_amp and pos - spike_pos >= d_min:
                # The highest spike within d_min; one of SPIKE_MG too soon after the last (fidgeting, a fast walk) breaks
                # any run, a weaker one is passed over, and none is looked at while the troughs count a walk.
                gap = spike_pos - spike_last
                if gap >= spike_gap or spike_amp > SPIKE_MG << 3:
                    took = 1
                    if gap >= spike_gap and int(self.walking) != 1:
                        self.pos = pos
                        took = int(self.spike(spike_pos, gap, busy, spike_amp))
                        spike_min = SPIKE_LOW_MG << 3 if int(self.walking) == 2 else SPIKE_MG << 3
                        if int(self.n_events) > ev_limit:
                            full = 1
                    if took:
                        spike_last = spike_pos
                        spike_half = spike_amp >> 1
                        busy = 0
                spike_amp = 0
            ahp = hp if hp >= 0 else -hp
            asum += ahp - (asum >> ka)
            mv += ahp >> 3
            if rising:
                if hp > peak:
                    peak = hp
                    peak_pos = pos
                elif hp < peak - ((asum >> ka) * SWING_EIGHTHS >> 3) - thr_min:
                    if peak > thr_min:
                        # Peaks closer than d_min are one movement: the highest is held until no higher one follows
                        # within d_min (or release() finds none can), then it is a step candidate.
                        if held_amp and peak_pos - held_pos < d_min:
                            if peak > held_amp:
                                held_pos = peak_pos
                                held_amp = peak
                        else:
                            if held_amp:
                                self.pos = pos
                                win[WIN_M] = sum_m
                                win[WIN_X] = sum_x
                                win[WIN_Y] = sum_y
                                win[WIN_Z] = sum_z
                                win[WIN_Q] = sum_q
                                self.candidate(held_pos, held_amp)
                                win[WIN_TURNS] = 0
                                win[WIN_CREST] = 0
                                sum_m = 0
                                sum_x = 0
                                sum_y = 0
                                sum_z = 0
                                sum_q = 0
                            held_pos = peak_pos
                            held_amp = peak
                    elif peak > 0:
                        # The slot of the next candidate: the one after the held peak's, which is not one yet.
                        r = int(self.recent_next)
                        if held_amp:
                            r += 1
                        if r == RECENT:
                            r = 0
                        ptr32(self.recent)[RECENT_FAINT + r] = peak_pos
                    win[WIN_TURNS] += 1
                    rising = 0
                    valley = hp
                    if int(self.n_events) > ev_limit:
                        full = 1
            elif hp < valley:
                valley = hp
            elif hp > valley + ((asum >> ka) * SWING_EIGHTHS >> 3) + thr_min:
                if -valley > win[WIN_CREST]:
                    win[WIN_CREST] = -valley
                rising = 1
                peak = hp
                peak_pos = pos
            if full:
                done = i + 1
                break
        chain[CH_M_I] = m_i
        chain[CH_LP1] = lp1
        chain[CH_LP2] = lp2
        chain[CH_BSUM] = bsum
        chain[CH_ASUM] = asum
        chain[CH_MV] = mv
        chain[CH_RISING] = rising
        chain[CH_SPIKE_AMP] = spike_amp
        chain[CH_SPIKE_HALF] = spike_half
        chain[CH_BUSY] = busy
        self.spike_pos = spike_pos
        self.spike_last = spike_last
        self.peak = peak
        self.valley = valley
        self.peak_pos = peak_pos
        self.held_pos = held_pos
        self.held_amp = held_amp
        self.pos = pos
        self.due = due
        win[WIN_M] = sum_m
        win[WIN_X] = sum_x
        win[WIN_Y] = sum_y
        win[WIN_Z] = sum_z
        win[WIN_Q] = sum_q
        return done

    def emit(self, kind, minute, a, b, c, d):
        n = self.n_events
        k = n * EV_WORDS
        ev = self.events
        ev[k] = kind
        ev[k + 1] = minute
        ev[k + 2] = a
        ev[k + 3] = b
        ev[k + 4] = c
        ev[k + 5] = d
        self.n_events = n + 1

    def spike(self, at, d, busy, height):
        """A heel-strike spike at `at` (`height` over the baseline, mg Q3), d samples after the spike before, with `busy`
        samples between off the baseline by half that spike's height. A slow regular run of N_CONFIRM_SLOW whose busy
        samples are under BUSY_EIGHTHS/8 of its span, spanning no arm work the troughs found, confirms a walk the troughs
        missed (walking == 2); it goes on from spike to spike as walk_on() allows, while slower than SPIKE_FAST_EIGHTHS/8
        of SLOW_STEP_MS. Returns 0 if it passed the spike over (the run goes on from the one before)."""
        if height <= SPIKE_MG << 3:
            # A weak spike only goes on with a walk, where it expects a step; any other is passed over.
            p = self.d_step
            if not self.walking or (d - p if d > p else p - d) * 8 > p * REGULAR_EIGHTHS:
                return 0
        spk = self.spk
        n = self.spk_n
        if self.walking:
            if d <= self.d_spike_max or self.hides_step(d):
                self.cand_pos = at
                self.walk_on(at, d)
                if self.d_step * 8 < self.d_slow * SPIKE_FAST_EIGHTHS:
                    self.end_walk()  # as fast as the troughs count: a spike walk there was found a stride at a time
                return 1
            self.end_walk()
            n = 0
        if n and (spk[n - 1] != at - d or spk[n - 1] <= self.seg_end):
            n = 0
        p = spk[n - 1] - spk[n - 2] if n >= 2 else 0
        if p and (d - p if d > p else p - d) * 8 > p * REGULAR_EIGHTHS:
            if d < p:
                return 0  # early: the arm's peak between two heel strikes, which the run goes on past
            if n < N_CONFIRM_SLOW - 1 and p * DOUBLE_FROM_EIGHTHS <= d * 8 <= p * DOUBLE_TO_EIGHTHS and d - (d >> 1) <= self.d_spike_max:
                # twice the run's interval: a heel strike too weak to show, which the run counts at the midpoint
                spk[n] = at - (d >> 1)
                spk[N_CONFIRM_SLOW + n] = busy >> 1
                busy -= busy >> 1
                n += 1
            else:
                spk[0] = spk[n - 1]
                n = 1
        elif d > self.d_spike_max:
            n = 0
        spk[n] = at
        spk[N_CONFIRM_SLOW + n] = busy
        n += 1
        self.spk_n = n
        if n < N_CONFIRM_SLOW:
            return 1
        total = 0
        for k in range(N_CONFIRM_SLOW + 1, N_CONFIRM_SLOW + n):
            total += spk[k]
        if total * 8 >= (at - spk[0]) * BUSY_EIGHTHS or at - spk[0] <= self.d_slow * (n - 1) or self.arm_at >= spk[0]:
            for k in range(n - 1):
                spk[k] = spk[k + 1]
                spk[N_CONFIRM_SLOW + k] = spk[N_CONFIRM_SLOW + k + 1]
            self.spk_n = n - 1
            return 1
        self.confirm_spikes()
        return 1

    def confirm_spikes(self):
        """A slow run of isolated spikes: each was a step. The first step's interval is taken to equal the mean."""
        spk = self.spk
        n = self.spk_n
        self.spk_n = 0
        self.run_n = 0
        self.walking = 2
        self.trial = 0
        self.seg_steps = 0
        self.side_avg = 0
        self.alt_avg = 0
        d_step = (spk[n - 1] - spk[0]) // (n - 1)
        self.d_step = d_step
        self.d_step16 = d_step << 4
        self.seg_start = spk[0] - d_step
        self.count_step(spk[0], d_step)
        for k in range(1, n):
            self.count_step(spk[k], spk[k] - spk[k - 1])
        self.cand_pos = spk[n - 1]

    def release(self, now):
        """A held peak with no rival left in reach is a candidate."""
        if self.held_amp and now - self.held_pos >= self.d_min:
            amp = self.held_amp
            self.held_amp = 0
            self.candidate(self.held_pos, amp)
            self.clear_sums()

    def clear_sums(self):
        """The interval's running sums start again from 0."""
        for k in range(WIN_WORDS):
            self.win_sums[k] = 0

    # Native code, as count_step(): the per-trough path without the bytecode interpreter's dispatch (docs/detector.md).
    @micropython.native
    def candidate(self, at, depth):
        """A peak at `at` (depth in mg Q3) is a step if it continues walking or completes a regular rhythm. The
        interval of the running sums ends here: the caller clears them after (a walking trough never reads them)."""
        pos = self.pos
        n = pos - self.win_start
        self.win_start = pos
        if self.walking == 2:
            return  # a walk confirmed on spikes goes on on spikes: its troughs fall anywhere
        d = at - self.cand_pos
        self.cand_pos = at
        # The interval this trough begins is erratic if it holds a turn besides its own or its range moved over
        # RANGE_MOVE_EIGHTHS/8 since the interval two before; the share of such intervals moves 1/8 of the way.
        win = self.win_sums
        now = depth + win[WIN_CREST]
        before = win[WIN_RANGE2]
        win[WIN_RANGE2] = win[WIN_RANGE1]
        win[WIN_RANGE1] = now
        share = win[WIN_ERRATIC]
        if win[WIN_TURNS] > 1 or (now - before if now > before else before - now) * 16 > (now + before) * RANGE_MOVE_EIGHTHS:
            share += (256 - share) >> 3
        else:
            share -= share >> 3
        win[WIN_ERRATIC] = share
        r = self.recent_next
        recent = self.recent
        recent[r] = at
        self.recent_next = r + 1 if r + 1 < RECENT else 0
        seen = self.recent_n
        if seen < RECENT:
            self.recent_n = seen + 1
        fits = self.d_min <= d <= self.d_max
        walking = self.walking
        goes_on = walking and (fits or self.hides_step(d))
        if walking and not goes_on:
            self.end_walk()
        recent[RECENT_DEPTH + r] = depth
        if recent[RECENT_FAINT + r] <= at - d:
            recent[RECENT_FAINT + r] = POS_FLOOR  # older than the candidate before
        if not goes_on and not fits:
            self.pend[0] = at
            self.run_n = 1
            self.d_prev = 0
            return
        if not goes_on or d >= self.d_stride:
            # The interval's mean vector and sideways motion: a pending peak needs them, and so does the stride test on
            # a walk's intervals from STRIDE_FROM_MS on (shorter ones are never strides: nothing is computed for them).
            sum_m = win[WIN_M]
            sum_x = win[WIN_X]
            sum_y = win[WIN_Y]
            sum_z = win[WIN_Z]
            sum_q = win[WIN_Q]
            if n <= 0:
                n = 1
            half = n >> 1
            mean_m = (sum_m + half) // n
            gx = (sum_x + half) // n
            gy = (sum_y + half) // n
            gz = (sum_z + half) // n
            if goes_on:
                alt = apart(gx, gy, gz, self.gx1, self.gy1, self.gz1) * self.mg_q9 >> 9
                self.alt_avg += (alt - self.alt_avg) >> 2
            else:
                turn = apart(gx, gy, gz, self.gx2, self.gy2, self.gz2)
            self.gx2 = self.gx1
            self.gy2 = self.gy1
            self.gz2 = self.gz1
            self.gx1 = gx
            self.gy1 = gy
            self.gz1 = gz
            # |mean vector| = floor(sqrt(v)) by Newton's method from mean_m >= it; written here, not called: per trough.
            v = gx * gx + gy * gy + gz * gz
            g = mean_m
            while g > 0:
                g_next = (g + v // g) >> 1
                if g_next >= g:
                    break
                g = g_next
            side = (mean_m - g) * self.mg_q9 >> 9
            if not goes_on:
                # The peak joins the pending rhythm: confirmed, it counts; rejected by a check, its first peak goes.
                k = self.run_n
                p = self.d_prev
                if k >= 2 and (d - p if d > p else p - d) * 8 > p * REGULAR_EIGHTHS and not self.alternates(d):
                    self.pend[0] = self.pend[k - 1]
                    k = 1
                mg_q9 = self.mg_q9
                kq = self.kq
                am = mean_m * mg_q9 >> 9
                self.pend_wander[k] = am - self.am2 if am > self.am2 else self.am2 - am
                self.am2 = self.am1
                self.am1 = am
                self.pend[k] = at
                self.pend_depth[k] = depth
                self.pend_side[k] = side
                self.pend_turn[k] = turn * (mg_q9 >> 3) >> 9
                self.pend_gx[k] = gx
                self.pend_gy[k] = gy
                self.pend_gz[k] = gz
                # Variance of |a| from the sum of (|a| - 1 g)^2, and across gravity: mean |a|^2 minus |mean a|^2.
                r0 = mean_m - (self.counts_per_g >> 2)
                vm = (sum_q + half) // n - (r0 * r0 >> kq)
                vx = (mean_m * mean_m - gx * gx - gy * gy - gz * gz) >> kq
                self.pend_vm[k] = vm if vm > 0 else 0
                self.pend_vx[k] = vx if vx > 0 else 0
                k += 1
                self.run_n = k
                self.d_prev3 = self.d_prev2
                self.d_prev2 = p
                self.d_prev = d
                # Three troughs hold no stride-to-stride turn for arm_work, so a resumed rhythm that moves sideways like
                # arm work (brushing teeth after a false walk) waits for N_CONFIRM and the whole check.
                need = N_RESUME if self.bout_steps and self.pend[0] - self.bout_end <= self.bout_gap and not self.side_over(ARM_EIGHTHS) else N_CONFIRM
                if need == N_CONFIRM and N_CONFIRM <= k < N_FLAT and (self.flat() or self.posture_change()):
                    need = N_FLAT
                if k == N_CONFIRM_SLOW or (k >= need and at - self.pend[0] <= self.d_slow * (k - 1)):
                    arm = self.arm_work()
                    if arm or self.vehicle_like():
                        if arm:
                            self.arm_at = at
                        self.veto_pos = self.pend[0]
                        self.drop_first()
                        return
                    self.confirm_run()
                return
            self.side_avg += (side - self.side_avg) >> 2
        if share > ERRATIC_EIGHTHS << 5 and self.d_step < self.d_slow:
            if not self.trial:
                self.trial = 2
                self.trial_at[TRIAL_STEPS] = self.seg_end
        elif self.trial == 2:
            self.release_held()
        self.walk_on(at, d)

    # Native code: the per-step path, from a trough (candidate()) or a heel-strike spike (spike()).
    @micropython.native
    def walk_on(self, at, d):
        """A step while walking. An interval near twice the walker's own step interval hides a step whose peak was too
        small to see (the wrist's weaker side): it is held, and counted at the midpoint once the walk goes on after it;
        a walker slowing to a stop takes a long last step."""
        if self.double_at != POS_FLOOR:
            self.count_double(1)
        d_step = self.d_step
        if d_step >= self.d_stride and self.stride_of(d_step):
            self.d_step16 >>= 1
            d_step = (self.d_step16 + 8) >> 4
            self.d_step = d_step
        if d_step * DOUBLE_FROM_EIGHTHS <= d * 8 <= d_step * DOUBLE_TO_EIGHTHS:
            self.double_at = at
            return
        self.count_step(at, d)
        quantum16 = self.quantum16
        d_step16 = self.d_step16 + ((d << 4) - self.d_step16) // (quantum16 << 2) * quantum16
        self.d_step16 = d_step16
        self.d_step = (d_step16 + 8) >> 4

    def alternates(self, d):
        """The pending rhythm alternates a short and a long interval, each repeated a stride later within
        STRIDE_REGULAR_EIGHTHS/8: d against the interval two before, the one before against the one three before."""
        a = self.d_prev2
        b = self.d_prev3
        p = self.d_prev
        return 1 if (d - a if d > a else a - d) * 8 <= a * STRIDE_REGULAR_EIGHTHS and (p - b if p > b else b - p) * 8 <= b * STRIDE_REGULAR_EIGHTHS else 0

    def arm_work(self):
        """The pending rhythm moves the wrist sideways (over ARM_EIGHTHS/8 of its depth) while turning it (over
        TURN_MIN_MG per stride), or over arm_high/8 (ARM_HIGH_EIGHTHS) turning over TURN_HIGH_MG; or, turning over
        TURN_WIDE_MG, sideways over ARM_WIDE_EIGHTHS/8 with most of its intervals moving across gravity
        (ACROSS_EIGHTHS)."""
        if self.run_n <= 3:
            return 0
        if self.turned(TURN_MIN_MG) and self.side_over(ARM_EIGHTHS):
            return 1
        if self.turned(TURN_HIGH_MG) and self.side_over(self.arm_high):
            return 1
        if not self.turned(TURN_WIDE_MG) or not self.side_over(ARM_WIDE_EIGHTHS):
            return 0
        across = 0
        for k in range(1, self.run_n):
            if self.pend_vx[k] * 8 >= self.pend_vm[k] * ACROSS_EIGHTHS:
                across += 1
        return 1 if across * 2 > self.run_n - 1 else 0

    def side_over(self, eighths):
        """The pending rhythm moves the wrist sideways over eighths/8 of its trough depth. The first peak's interval
        may hold the stillness before the rhythm and is left out."""
        return 1 if self.run_sum(self.pend_side, 1) * 8 > self.run_sum(self.pend_depth, 1) * eighths else 0

    def turned(self, turn_mg):
        """The pending rhythm (run_n > 3) turns the wrist over turn_mg per stride. The turns of the first two peaks
        compare with intervals before the rhythm and are left out."""
        return 1 if self.run_sum(self.pend_turn, 3) > turn_mg * (self.run_n - 3) else 0

    def vehicle_like(self):
        """The pending rhythm is shallow (mean trough depth under SHALLOW_MG) and wanders by WANDER_EIGHTHS."""
        if self.run_n <= 3 or self.run_sum(self.pend_depth, 3) >= (SHALLOW_MG << 3) * (self.run_n - 3):
            return 0
        return self.wanders(WANDER_EIGHTHS)

    def wanders(self, eighths):
        """From stride to stride (trough k against k-2) both the pending rhythm's depth and its mean |a| move over
        eighths/8 of its depth. The first two intervals compare with intervals before the rhythm and are left out
        (run_n > 3)."""
        depth = 0
        depth_moved = 0
        mean_moved = 0
        for k in range(3, self.run_n):
            now = self.pend_depth[k]
            before = self.pend_depth[k - 2]
            depth += now
            depth_moved += now - before if now > before else before - now
            mean_moved += self.pend_wander[k]
        return 1 if depth_moved * 8 > depth * eighths and mean_moved * 8 > depth * eighths else 0

    def flat(self):
        """The pending rhythm is shallow (mean trough depth under SHALLOW_MG) and moves sideways under
        FLAT_SIDE_MG per interval: a vehicle's heave along gravity. As in arm_work, the first interval is left out."""
        depth = self.run_sum(self.pend_depth, 1)
        return 1 if depth < (SHALLOW_MG << 3) * (self.run_n - 1) and self.run_sum(self.pend_side, 1) < (FLAT_SIDE_MG << 3) * (self.run_n - 1) else 0

    def posture_change(self):
        """The pending rhythm turns gravity by over POSTURE_MG from its second interval to its last and wanders by
        POSTURE_WANDER_EIGHTHS (as vehicle_like, without the depth gate): a body changing posture, not a gait."""
        if self.run_n <= 3:
            return 0
        last = self.run_n - 1
        moved = apart(self.pend_gx[last], self.pend_gy[last], self.pend_gz[last],
                      self.pend_gx[1], self.pend_gy[1], self.pend_gz[1])
        if moved * (self.mg_q9 >> 3) >> 9 <= POSTURE_MG:
            return 0
        return self.wanders(POSTURE_WANDER_EIGHTHS)

    def run_sum(self, ring, first):
        """A pending feature summed over the rhythm from its interval `first` on: 1 leaves out the first (it may hold
        the stillness before), 3 also the two whose stride-to-stride features compare with intervals before it."""
        total = 0
        for k in range(first, self.run_n):
            total += ring[k]
        return total

    def run_alt(self):
        """How far each pending interval's mean vector moved from the one before (mg Q3), summed from the third
        interval on (the first two compare with intervals before the rhythm)."""
        total = 0
        for k in range(2, self.run_n):
            total += apart(self.pend_gx[k], self.pend_gy[k], self.pend_gz[k],
                           self.pend_gx[k - 1], self.pend_gy[k - 1], self.pend_gz[k - 1]) * self.mg_q9 >> 9
        return total

    def drop_first(self):
        """Forget the oldest pending peak: the rhythm may still start at a later one."""
        self.run_n -= 1
        for k in range(self.run_n):
            self.pend[k] = self.pend[k + 1]
            self.pend_depth[k] = self.pend_depth[k + 1]
            self.pend_side[k] = self.pend_side[k + 1]
            self.pend_turn[k] = self.pend_turn[k + 1]
            self.pend_wander[k] = self.pend_wander[k + 1]
            self.pend_gx[k] = self.pend_gx[k + 1]
            self.pend_gy[k] = self.pend_gy[k + 1]
            self.pend_gz[k] = self.pend_gz[k + 1]
            self.pend_vm[k] = self.pend_vm[k + 1]
            self.pend_vx[k] = self.pend_vx[k + 1]

    def confirm_run(self):
        """A regular rhythm: every peak in it was a step, and so were the back-filled ones before it. The stretch
        starts FIRST_LEAD_EIGHTHS of the second step's interval before the first step's trough: its toe-off."""
        pend = self.pend
        first_d = pend[1] - pend[0]
        self.walking = 1
        self.seg_steps = 0
        self.trial = 1 if self.run_n > 3 and self.turned(TRIAL_TURN_MG) else 0
        self.alt_avg = self.run_alt() // (self.run_n - 2)
        self.side_avg = self.run_sum(self.pend_side, 2) // (self.run_n - 2)
        split = self.stride_of((pend[self.run_n - 1] - pend[0]) // (self.run_n - 1))
        self.d_step = (pend[self.run_n - 1] - pend[0]) // ((self.run_n - 1) << split)
        self.d_step16 = self.d_step << 4
        first_d >>= split
        n_back = self.backfill(first_d)
        back = self.backfilled
        first = back[n_back - 1] if n_back else pend[0]
        lead = first_d * FIRST_LEAD_EIGHTHS >> 3
        if self.minute == 0 and lead > first:
            lead = first  # walking already when the detector started: the stretch starts at sample 0
        self.seg_start = first - lead
        self.count_step(first, lead)
        if n_back:
            for k in range(n_back - 2, -1, -1):
                self.count_step(back[k], back[k] - back[k + 1])
            self.count_step(pend[0], pend[0] - back[0])
        for k in range(1, self.run_n):
            d = pend[k] - pend[k - 1]
            if split:
                self.count_step(pend[k - 1] + (d >> 1), d >> 1)
                d -= d >> 1
            self.count_step(pend[k], d)
        self.run_n = 0

    def stride_of(self, d):
        """An interval of d samples spans a whole stride: over STRIDE_FROM_MS, with the interval means moving under
        STRIDE_ALT_EIGHTHS/8 of the sideways motion, itself at least STRIDE_SIDE_MG (as tracked while walking)."""
        return 1 if d >= self.d_stride and self.side_avg >= STRIDE_SIDE_MG << 3 and self.alt_avg * 8 < self.side_avg * STRIDE_ALT_EIGHTHS else 0

    def backfill(self, first_d):
        """Walk back from the rhythm's first peak over the uncounted candidates before it while each continues
        the cadence; fill self.backfilled (newest first) and return how many steps, 0 if fewer than
        BACKFILL_MIN peaks. Stops where the walk would start before the last counted step or in a minute already
        reported, and at a peak a check rejected. Before the earliest step found, a trough too shallow to be a
        candidate one regular interval back is the walk's first step if that earliest one is no shallow first step
        itself (under FIRST_DEPTH_EIGHTHS of the rhythm's depth)."""
        d_step = self.d_step
        earliest = -self.spm if self.has_prev else 0
        ring = RECENT
        k = self.recent_next - self.run_n - 1
        left = self.recent_n - self.run_n
        later = self.pend[0]
        n_back = 0
        peaks = 0
        while left > 0 and peaks < BACKFILL_MAX:
            at = self.recent[k if k >= 0 else k + ring]
            d = later - at
            if at - first_d < self.seg_end or at - first_d < earliest or at <= self.veto_pos:
                break
            if (d - d_step if d > d_step else d_step - d) * 8 <= d_step * REGULAR_EIGHTHS:
                self.backfilled[n_back] = at
                n_back += 1
            elif d_step * DOUBLE_FROM_EIGHTHS <= d * 8 <= d_step * DOUBLE_TO_EIGHTHS:
                self.backfilled[n_back] = at + (d >> 1)
                self.backfilled[n_back + 1] = at
                n_back += 2
            else:
                break
            peaks += 1
            later = at
            k -= 1
            left -= 1
        if peaks < BACKFILL_MIN:
            n_back = 0
            later = self.pend[0]
            k = self.recent_next - self.run_n - 1
        k = k + 1 if k + 1 >= 0 else k + 1 + ring
        at = self.recent[RECENT_FAINT + k]
        gap = later - at
        if (gap <= 2 * d_step and self.recent[RECENT_DEPTH + k] * 8 * (self.run_n - 1) >= self.run_sum(self.pend_depth, 1) * FIRST_DEPTH_EIGHTHS
                and (gap - d_step if gap > d_step else d_step - gap) * 8 <= d_step * REGULAR_EIGHTHS
                and at - first_d >= self.seg_end and at - first_d >= earliest and at > self.veto_pos):
            self.backfilled[n_back] = at
            n_back += 1
        return n_back

    def hides_step(self, d):
        """While walking, an interval past d_max that is 13/8..19/8 of the step interval (a step whose peak was too
        small to see: the wrist's weaker side, a 12.5 Hz watch) continues the walk; candidate() holds it. Never one
        long step: d_step would grow past d_max and keep a standing wearer walking."""
        return 1 if d > self.d_max and self.d_step * DOUBLE_FROM_EIGHTHS <= d * 8 <= self.d_step * DOUBLE_TO_EIGHTHS else 0

    def count_double(self, hidden):
        """Count the held long interval, from the last counted step to double_at: two steps if it held a hidden one
        (the walk went on after it), else one."""
        at = self.double_at
        self.double_at = POS_FLOOR
        d = at - self.seg_end
        if hidden:
            half = d >> 1
            self.count_step(at - d + half, half)
            d -= half
        self.count_step(at, d)

    # Native code: the per-step path (see candidate()).
    @micropython.native
    def count_step(self, at, d):
        """A step of the current walk at `at`, its interval d begun in this minute or the previous one: counted at once,
        or held while the walk is on trial."""
        self.seg_end = at
        if self.trial:
            self.hold(at, d)
            return
        self.seg_steps += 1
        # emit(EV_STEP, minute, at, 0, 0, 0) written out: the per-step path, one bytecode call fewer.
        n = self.n_events
        k = n * EV_WORDS
        ev = self.events
        ev[k] = EV_STEP
        ev[k + 1] = self.minute
        ev[k + 2] = at
        ev[k + 3] = 0
        ev[k + 4] = 0
        ev[k + 5] = 0
        self.n_events = n + 1
        if at < 0:
            self.prev_steps += 1
        else:
            self.cur_steps += 1
        begin = at - d
        if at <= 0:
            self.prev_walk += d
        elif begin >= 0:
            self.cur_walk += d
        else:
            self.prev_walk -= begin
            self.cur_walk += at

    def hold(self, at, d):
        """A step of a walk on trial, held; with TRIAL_STEPS held a new walk has passed, and they all count, while an
        erratic walk's are forgotten (it stays on trial)."""
        self.trial_at[self.trial_n] = at
        self.trial_d[self.trial_n] = d
        self.trial_n += 1
        if self.trial_n == TRIAL_STEPS:
            if self.trial == 2:
                self.drop_held(at)
            else:
                self.release_held()

    def drop_held(self, at):
        """An erratic walk's TRIAL_STEPS held steps, the last at `at`, are forgotten: its counted part is reported up to its
        last counted step, and what the walk counts from here on (if its share falls back) is a new stretch."""
        self.trial_n = 0
        if self.seg_steps:
            self.seg_end = self.trial_at[TRIAL_STEPS]
            self.report_walk()
        self.seg_steps = 0
        self.seg_start = at
        self.seg_end = at
        self.trial_at[TRIAL_STEPS] = at

    def release_held(self):
        """The walk on trial has passed (or is no longer erratic): its held steps count."""
        n = self.trial_n
        self.trial = 0
        self.trial_n = 0
        for k in range(n):
            self.count_step(self.trial_at[k], self.trial_d[k])

    def end_walk(self):
        """The current stretch of walking is over: report it and grow or close the bout; or forget it, on trial (an
        erratic walk forgets its held steps and ends at its last counted one)."""
        if self.double_at != POS_FLOOR:
            self.count_double(0)
        self.walking = 0
        if self.trial:
            self.veto_pos = self.seg_end
            erratic = self.trial == 2
            self.trial = 0
            self.trial_n = 0
            if not erratic:
                return
            self.seg_end = self.trial_at[TRIAL_STEPS]
            if not self.seg_steps:
                return
        self.report_walk()

    def report_walk(self):
        """The stretch from seg_start to seg_end: its walk event, and the bout it grows or starts."""
        self.emit(EV_WALK, self.minute, self.seg_start, self.seg_end, self.seg_steps, 0)
        if self.bout_steps and self.seg_start - self.bout_end <= self.bout_gap:
            self.bout_end = self.seg_end
            self.bout_steps += self.seg_steps
            return
        self.close_bout()
        self.bout_start = self.seg_start
        self.bout_end = self.seg_end
        self.bout_steps = self.seg_steps

    def close_bout(self):
        length = self.bout_end - self.bout_start
        if self.bout_steps and length >= self.bout_min:
            cadence = self.bout_steps * self.spm // length
            self.emit(EV_BOUT, self.minute, self.bout_start, self.bout_end, self.bout_steps, cadence)
        self.bout_steps = 0

    def settle(self, now):
        """Close what time alone ends: walking with no step for d_max and past a hidden step's reach (see
        hides_step), a bout with no walking for bout_gap."""
        self.release(now)
        if self.walking and now - self.cand_pos > self.d_max and (now - self.cand_pos) * 8 > self.d_step * DOUBLE_TO_EIGHTHS:
            self.end_walk()
        if self.bout_steps and not self.walking and now - self.bout_end > self.bout_gap:
            self.close_bout()

    def reach_due(self, mv):
        """pos reached `due`: either a minute ended (roll over) or the previous minute can be reported."""
        self.settle(self.pos)
        if self.pos == self.spm:
            self.roll_minute(mv)
            return 0
        self.report_prev()
        self.due = self.spm
        return mv

    def roll_minute(self, mv):
        spm = self.spm
        if self.has_prev:
            self.report_prev()
        self.prev_walk = self.cur_walk
        self.prev_steps = self.cur_steps
        self.prev_move = mv // spm
        self.cur_walk = 0
        self.cur_steps = 0
        self.has_prev = 1
        self.minute += 1
        self.pos = 0
        self.due = self.lag
        self.peak_pos = aged(self.peak_pos, spm, POS_FLOOR)
        self.held_pos = aged(self.held_pos, spm, POS_FLOOR)
        self.seg_start = aged(self.seg_start, spm, POS_FLOOR)
        self.seg_end = aged(self.seg_end, spm, POS_FLOOR)
        self.bout_start = aged(self.bout_start, spm, POS_FLOOR)
        self.bout_end = aged(self.bout_end, spm, POS_FLOOR)
        age_all(self.pend, 0, self.run_n, spm)
        age_all(self.spk, 0, self.spk_n, spm)
        self.spike_pos = aged(self.spike_pos, spm, POS_FLOOR)
        self.spike_last = aged(self.spike_last, spm, POS_FLOOR)
        age_all(self.trial_at, 0, self.trial_n, spm)
        self.trial_at[TRIAL_STEPS] = aged(self.trial_at[TRIAL_STEPS], spm, POS_FLOOR)
        age_all(self.recent, 0, self.recent_n, spm)
        age_all(self.recent, RECENT_FAINT, RECENT_FAINT + RECENT, spm)
        self.veto_pos = aged(self.veto_pos, spm, POS_FLOOR)
        self.arm_at = aged(self.arm_at, spm, POS_FLOOR)
        self.double_at = aged(self.double_at, spm, POS_FLOOR)
        # A previous peak older than two d_max is as good as none.
        self.cand_pos = aged(self.cand_pos, spm, -2 * self.d_max)
        # An interval longer than 2 d_max holds no step: restart it, which keeps the sums small ints.
        if spm - self.win_start > 2 * self.d_max:
            self.win_start = -1
            self.clear_sums()
        else:
            self.win_start -= spm

    def report_prev(self):
        self.report(self.minute - 1, self.prev_walk, self.prev_steps, self.prev_move)
        self.has_prev = 0

    def report(self, minute, walk, steps, move):
        walk_s = (walk * 1000 + self.rate_mhz // 2) // self.rate_mhz
        pace = pace_of(steps, walk, self.spm)
        self.emit(EV_MINUTE, minute, walk_s if walk_s < 60 else 60, steps, pace, move)

    def flush(self):
        """End of input (host replay): close walking and bouts and report every minute still open."""
        self.n_events = 0
        self.settle(self.pos + self.d_max + self.bout_gap + 1)
        if self.has_prev:
            self.report_prev()
        n = self.pos + 1
        if n > 0:
            self.report(self.minute, self.cur_walk, self.cur_steps, self.chain[CH_MV] // n)
        return self.n_events
