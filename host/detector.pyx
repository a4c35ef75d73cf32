# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Walking detector, host mirror of firmware/detector.py: same names, same order, line for line.

The firmware file is the specification; this file only restates it in C types so a week of samples replays in
seconds. Change the firmware first, then this file; tests/test_mirror.py fails on any divergence. Integer
semantics are Python's: `//` on operands that can be negative goes through floordiv(), `>>` relies on the
arithmetic shift that the static assertion below demands of the compiler.
"""
from array import array

cimport cython

cdef extern from *:
    """
    /* Python's >> floors; C leaves >> of a negative signed value to the compiler. Refuse to build where it
       is not an arithmetic shift (gcc, clang and MSVC all shift arithmetically). */
    _Static_assert((-3LL >> 1) == -2LL && (-1 >> 5) == -1, "walkdose.detector needs arithmetic >>");
    """


cdef inline long long floordiv(long long a, long long b) noexcept nogil:
    """Python's a // b (floor) for C integers; C's / truncates toward zero."""
    cdef long long q = a / b
    if (a % b != 0) and ((a < 0) != (b < 0)):
        q -= 1
    return q


cdef inline const unsigned short* ptr16(const short[::1] samples) noexcept:
    """Viper's ptr16(): the buffer as unsigned 16-bit words (feed() sign-extends each as the firmware does)."""
    return <const unsigned short*> &samples[0]  # no bounds check: an empty buffer is never read


cdef inline int* ptr32(int[::1] words) noexcept:
    """Viper's ptr32(): an int array's items, read and written in place."""
    return &words[0]


# Events, EV_WORDS ints each in `events`: kind, minute, then up to four fields (positions are samples
# relative to the start of `minute`, negative for earlier minutes).
cpdef enum:
    EV_STEP = 1  # pos
    EV_WALK = 2  # start_pos, end_pos, steps: one stretch of walking as the classifier saw it
    EV_BOUT = 3  # start_pos, end_pos, steps, cadence_spm: >= BOUT_MIN_MS with gaps <= BOUT_GAP_MS
    EV_MINUTE = 4  # walk_s, steps, pace, movement_mg: the record of minute `minute`
    EV_WORDS = 6
    EV_CAP = 64
    # One trough emits at most N_CONFIRM_SLOW + 2 * BACKFILL_MAX + 2 events and one due point at most
    # N_CONFIRM_SLOW + 2 * BACKFILL_MAX + 6; feed() checks the slots left after each trough and before each due
    # point, and returns early when they run short.
    EV_HEADROOM = 32

    # Pace classes stand in for HUNT's slow/moderate/brisk walking (2.8/3.8/4.8 MET); CADENCE-Adults puts
    # ~100 steps/min at 3 MET and 120 at 5 MET in adults over 60.
    PACE_NONE = 0
    PACE_SLOW = 1
    PACE_MODERATE = 2
    PACE_BRISK = 3
    MODERATE_FROM_SPM = 100
    BRISK_FROM_SPM = 120

    # Signal chain, chosen on the public sets (see README, "Accuracy"): magnitude -> two-pole low-pass ->
    # minus a slow baseline -> lobes above an adaptive threshold -> regular rhythm -> steps.
    # Keeps the step rhythm and drops the jitter of hand and vehicle. Nominal: lowpass_q12's w/(1+w) puts each pole's
    # true cutoff at 2.55 Hz at 50 Hz (1.83 at 12.5, 2.75 at 100), which the settings were chosen with (README,
    # "Rate dependence").
    LP_CUTOFF_MHZ = 3000
    BASELINE_TAU_MS = 640  # removes gravity and posture; passes 1 Hz (60 steps/min)
    LEVEL_TAU_MS = 1280  # time constant of the mean |dynamic acceleration| the threshold follows
    THR_MIN_MG = 25  # a peak lower than this is never a step (typing, vibration)
    SWING_EIGHTHS = 2  # peak and trough must differ by THR_MIN_MG plus 2/8 of the recent mean |motion|
    STEP_MIN_MS = 270  # 222 steps/min: troughs no further apart are one movement (the deepest one counts)
    STEP_MAX_MS = 1250  # 48 steps/min: slower is not a gait (counts walking down to ~60 steps/min)
    N_CONFIRM = 5  # steps in a regular rhythm before any of them count
    N_RESUME = 3  # ... within BOUT_GAP_MS of earlier walking (a turn, a door, a kerb), unless it moves sideways
    N_CONFIRM_SLOW = 8  # ... when the rhythm is slower than SLOW_STEP_MS: vehicles and gestures sway slowly
    SLOW_STEP_MS = 750  # 80 steps/min
    REGULAR_EIGHTHS = 3  # consecutive step intervals differ by at most 3/8 while a rhythm starts
    DOUBLE_FROM_EIGHTHS = 13  # while walking, an interval of 13/8..19/8 of the step interval is two steps
    DOUBLE_TO_EIGHTHS = 19  # ... even past STEP_MAX_MS: a slow walker's missed step must not end the walk
    # While walking, the step interval moves a quarter of the way to each new interval in whole STEP_QUANTUM_MS,
    # rounded down: it follows the walker's shorter intervals at once and longer ones from 4 quanta (80 ms) on, the
    # same at every rate (in whole samples that was 320 ms at 12.5 Hz and 40 ms at 100 Hz; README, "Rate dependence").
    STEP_QUANTUM_MS = 20
    # A walk starting with the arm settling shows only every other step (the stride) until its rhythm is confirmed.
    # At confirmation, the uncounted peaks just before the rhythm that continue its cadence (each interval within
    # REGULAR_EIGHTHS/8 of the step interval, or 13/8..19/8 of it holding a hidden step) are counted too, if there
    # are at least BACKFILL_MIN of them: one lone peak before a walk is as often a posture shift (lower back).
    BACKFILL_MIN = 2
    BACKFILL_MAX = 8  # peaks looked back at, at most
    # Arm work (brushing teeth, combing hair, getting into bed) can be as regular as gait but moves the wrist
    # sideways and turns it at once. Running sums of x, y, z and |a| over each interval between step candidates give
    # per peak the sideways motion (mean |a| minus |mean a|) and the turn (how far the mean vector, i.e. gravity, moved
    # since the same arm-swing phase a stride (two intervals) earlier). A rhythm doing both is not confirmed (its
    # oldest peak is dropped and the next peak tries again); once walking, nothing is re-checked. Either alone is not
    # enough: a phone in a back pocket moves sideways without turning, and short walks around a house turn the wrist.
    # Chosen on all public sets together at 12.5, 25, 50 and 100 Hz (README, "Accuracy"); limits on sideways motion
    # alone, or on the trough's dip along gravity, did better at 50 Hz but lost back-pocket walks at 25 and 100 Hz.
    ARM_EIGHTHS = 3  # sideways over 3/8 of the trough depth: combing (median 5/8), brushing; walks ~1/8
    TURN_MIN_MG = 100  # ... while gravity moves over 100 mg per stride: combing ~470, walks ~25-130
    # Brushing teeth strokes the hand sideways by more than the whole trough depth (8-24/8) while the wrist turns only
    # 60-100 mg per stride; at 50 Hz walks stay under it (back pocket: 90 % under 5.5/8). Walks' sideways share grows
    # as the rate falls (back pocket's median 3.6, 4.7 and 8/8 at 50, 25 and 12.5 Hz) and brushing's hardly, so below
    # ARM_HIGH_RATE_MHZ the limit grows with ARM_HIGH_RATE_MHZ / rate (README, "Accuracy").
    ARM_HIGH_EIGHTHS = 8
    TURN_HIGH_MG = 50
    ARM_HIGH_RATE_MHZ = 50000
    # A rhythm turning the wrist over TURN_WIDE_MG per stride is arm work from ARM_WIDE_EIGHTHS/8 sideways on, if in most
    # of its intervals the dynamic acceleration across gravity (variance of the vector minus variance of |a|) is at
    # least ACROSS_EIGHTHS/8 of that along it (variance of |a|): combing, brushing, pouring (side 2-3/8, turn 400-1300)
    # swing the hand around the wrist; a stair climb with the same side and turn moves the wrist along gravity.
    ARM_WIDE_EIGHTHS = 2
    TURN_WIDE_MG = 200
    ACROSS_EIGHTHS = 6
    # A car's sway can hold a rhythm as regular as gait at the wrist with no sideways motion, but it is shallow and
    # wanders: from stride to stride (interval k against k-2) both the trough depth and the interval's mean |a| move,
    # where a walker repeats them. A shallow rhythm wandering in both is not confirmed. Chosen on all public sets
    # together (README, "Accuracy"); without the depth gate the same test also rejects bed transitions but loses the
    # short walks of wrist recordings.
    SHALLOW_MG = 80  # mean trough depth under which a rhythm may be a vehicle: drives 38-95, wrist walks 90-230
    WANDER_EIGHTHS = 3  # both move over 3/8 of the depth per stride: drives 2-19/8, walks' medians 0.4-2.6/8
    # A car's heave moves the wrist along gravity only, and holds a gait-like rhythm for a few cycles (the drives'
    # regular runs end after 5-6 troughs). A shallow rhythm whose intervals move sideways under FLAT_SIDE_MG (mean |a|
    # minus |mean a|: horizontal motion under ~90 mg rms) needs N_FLAT regular troughs instead of N_CONFIRM. It is not
    # rejected, so a flat walk (a wrist not swinging, a phone held still) only waits two more steps and then counts
    # all of them. An absolute limit, not a share of the depth: it gives the same counts with every constant moved
    # by a quarter either way at 12.5, 25, 50 and 100 Hz (README, "Accuracy").
    FLAT_SIDE_MG = 4  # drives 0.2-2.3 mg; shallow walks and climbs mostly 2-10 mg, so the flattest wait, not fail
    N_FLAT = 7
    # Getting up from or lying down on a bed turns the whole body, so the wrist's gravity moves a long way while the
    # rhythm runs, and its troughs come from a sequence of different movements: from stride to stride both the trough
    # depth and the interval's mean |a| move, where a walker repeats them. A rhythm doing both (gravity moved over
    # POSTURE_MG from its second interval to its last, depth and mean |a| each moving over POSTURE_WANDER_EIGHTHS/8 of
    # the depth per stride) waits for N_FLAT regular troughs like a flat one: a walk that starts while the wrist still
    # turns only waits two more steps. Counted bed transitions turned a median 880 (getting up) and 1380 mg (lying
    # down) by confirmation; hmp walks a median 170 mg, 90 % under 360. Chosen on all public sets together (README,
    # "Accuracy"): 675 mg loses 13 more steps of the mixed wrist recording's short walks, 900-1125 mg none.
    POSTURE_MG = 900
    POSTURE_WANDER_EIGHTHS = 2
    # Eating, pouring and getting out of bed can pass every check above for a few troughs, turning the wrist as a short
    # walk around a house does, and end within a few steps. A walk whose rhythm turned the wrist over TRIAL_TURN_MG per
    # stride by its confirmation is on trial: its steps are held until it has TRIAL_STEPS of them, and forgotten (as if
    # the checks had rejected them) if it ends sooner. A steadier wrist, a pocket or the lower back count from N_CONFIRM
    # steps, as HUNT counted walking with no minimum length. Chosen on all public sets together (README, "Accuracy"):
    # the mixed wrist recording loses three 5-step stretches that turned 475-960 mg, the sets with step truth nothing.
    TRIAL_TURN_MG = 300
    TRIAL_STEPS = 8
    BOUT_MIN_MS = 10000
    BOUT_GAP_MS = 3000

    # |a| is one Newton step from the |a| of JERK_MS earlier (at least one sample), so it exceeds the true |a| by
    # (its change over JERK_MS)^2 / 2|a|: a jerk term the thresholds were chosen with at 50 Hz. From the previous
    # sample, at 100 Hz, it was a quarter of that: hmp 5.7 % instead of 3.4 % (README, "Rate dependence").
    JERK_MS = 20
    M_MAX = 14190  # |(x, y, z) >> 2| can reach sqrt(3) * 8192; a Newton step from far below overshoots
    A3_Q9_PER_G = 4096000  # one g as a3 (mg in Q3: 8000) times 2^9
    # Positions stop ageing here (2^28 samples back, 30 days at 104 Hz): nothing that old still counts, and an
    # idle board's stale positions stay small ints.
    POS_FLOOR = -268435456


cpdef long long samples_for_ms(long long ms, long long rate_mhz):
    """Whole samples in ms milliseconds at rate_mhz, rounded to nearest (start-up only)."""
    return floordiv(ms * rate_mhz + 500000, 1000000)


cpdef long long samples_over_ms(long long ms, long long rate_mhz):
    """Fewest whole samples spanning more than ms milliseconds at rate_mhz (start-up only)."""
    return floordiv(ms * rate_mhz, 1000000) + 1


cpdef int shift_for_ms(long long ms, long long rate_mhz):
    """The k whose 2^k samples come closest to ms milliseconds: time constant of a shift-only average."""
    cdef long long target_x1000 = floordiv(ms * rate_mhz, 1000)  # samples x 1000
    cdef int k = 0
    while (1LL << (k + 1)) * 1000000 <= target_x1000 * 1414:  # 2^(k+1) <= target * sqrt(2)
        k += 1
    return k


cpdef long long lowpass_q12(long long cutoff_mhz, long long rate_mhz):
    """One-pole smoothing coefficient in Q12: w/(1+w) with w = 2*pi*fc/fs (close to 1-exp(-w) below fs/6)."""
    cdef long long w_num = 6283 * cutoff_mhz
    return floordiv(4096 * w_num, 1000 * rate_mhz + w_num)


cpdef long long aged(long long pos, long long spm, long long floor) noexcept nogil:
    """pos moved one minute back at a rollover, no further back than floor."""
    return pos - spm if pos - spm > floor else floor


cpdef long long apart(long long ax, long long ay, long long az, long long bx, long long by, long long bz) noexcept nogil:
    """How far two mean vectors lie apart, |ax - bx| + |ay - by| + |az - bz| (per pending peak)."""
    cdef long long d = ax - bx if ax > bx else bx - ax
    d += ay - by if ay > by else by - ay
    d += az - bz if az > bz else bz - az
    return d


cpdef long long root_below(long long v, long long r) noexcept nogil:
    """floor(sqrt(v)) by Newton's method from r >= sqrt(v), v >= 0 (per pending peak, not per sample)."""
    cdef long long r_next
    while r > 0:
        r_next = (r + v // r) >> 1  # C division is floor here: v >= 0 and r > 0
        if r_next >= r:
            break
        r = r_next
    return r


cpdef int pace_of(long long steps, long long walk_samples, long long spm) noexcept nogil:
    """Pace class of a minute from its steps and walking samples (cadence while walking)."""
    if steps == 0 or walk_samples == 0:
        return PACE_NONE
    cdef long long cadence = floordiv(steps * spm, walk_samples)
    if cadence >= BRISK_FROM_SPM:
        return PACE_BRISK
    if cadence >= MODERATE_FROM_SPM:
        return PACE_MODERATE
    return PACE_SLOW


# The cold methods return 0, or -1 with IndexError set if `events` overflowed (where the firmware's array
# raises): C return codes carry the error out of the nogil loop at no cost per call.
cdef class Detector:
    cdef readonly long long rate_mhz, counts_per_g, spm, mg_q9, k_lp, kb, ka, thr_min
    cdef readonly long long d_min, d_max, bout_min, bout_gap, d_slow, lag, quantum16, m_n, kq, arm_high
    cdef readonly int[::1] events, m_ring
    cdef readonly int n_events
    cdef readonly int[::1] pend, pend_depth, pend_side, pend_turn, pend_wander, pend_gx, pend_gy, pend_gz, pend_vm, pend_vx
    cdef readonly int[::1] recent, backfilled, trial_at, trial_d
    cdef readonly long long m_i, lp1, lp2, bsum, asum, mv, rising, peak, peak_pos, valley, held_pos, held_amp
    cdef readonly long long win_start, sum_m, sum_x, sum_y, sum_z, sum_q, gx1, gy1, gz1, gx2, gy2, gz2, am1, am2
    cdef readonly long long minute, pos, due, has_prev, cand_pos, d_prev, d_step, d_step16, run_n, walking, trial, trial_n
    cdef readonly long long seg_start, seg_end, seg_steps, bout_start, bout_end, bout_steps
    cdef readonly long long cur_walk, cur_steps, prev_walk, prev_steps, prev_move, recent_next, recent_n, veto_pos

    def __init__(self, long long rate_mhz, long long counts_per_g):
        if rate_mhz < 10000 or rate_mhz > 200000 or rate_mhz * 60 % 1000:
            raise ValueError("rate_mhz must be 10000..200000 with a whole number of samples per minute")
        if counts_per_g < 1024 or counts_per_g > 16384:
            raise ValueError("counts_per_g must be 1024..16384 (e.g. 4096 for +/-8 g)")
        self.rate_mhz = rate_mhz
        self.counts_per_g = counts_per_g
        self.spm = rate_mhz * 60 // 1000
        # |a| is computed on counts >> 2 so that three squares stay below 3 * 2^26.
        self.mg_q9 = A3_Q9_PER_G * 4 // counts_per_g
        self.k_lp = lowpass_q12(LP_CUTOFF_MHZ, rate_mhz)
        self.kb = shift_for_ms(BASELINE_TAU_MS, rate_mhz)
        self.ka = shift_for_ms(LEVEL_TAU_MS, rate_mhz)
        self.thr_min = THR_MIN_MG << 3
        self.d_min = samples_over_ms(STEP_MIN_MS, rate_mhz)
        self.d_max = samples_for_ms(STEP_MAX_MS, rate_mhz)
        self.bout_min = samples_for_ms(BOUT_MIN_MS, rate_mhz)
        self.bout_gap = samples_for_ms(BOUT_GAP_MS, rate_mhz)
        self.d_slow = samples_for_ms(SLOW_STEP_MS, rate_mhz)
        self.arm_high = max(ARM_HIGH_EIGHTHS, ARM_HIGH_EIGHTHS * ARM_HIGH_RATE_MHZ // rate_mhz)
        self.quantum16 = samples_for_ms(STEP_QUANTUM_MS * 16, rate_mhz)  # in 1/16 samples
        # (|a| - 1 g)^2, |a| - 1 g clamped to +/-1 g, is summed >> kq: at most 2^13 per sample, 2^26 over a minute at 104 Hz.
        self.kq = 7
        while ((counts_per_g >> 2) * (counts_per_g >> 2) >> self.kq) > 8192:
            self.kq += 1
        # |a| of the last JERK_MS, oldest at m_i: each Newton step starts from there (2 at 100 Hz, 1 at 50 and below).
        self.m_n = max(1, samples_for_ms(JERK_MS, rate_mhz))
        self.m_ring = array("i", [0] * self.m_n)
        # A minute is reported this long after it ends: a rhythm still being confirmed, and the interval
        # before its first step, can reach back this far (back-filled steps stop short of a reported minute); so can
        # the steps of a walk on trial, held over at most TRIAL_STEPS - 1 intervals (under 9 d_max).
        self.lag = (N_CONFIRM_SLOW + 2) * self.d_max
        self.events = array("i", [0] * (EV_CAP * EV_WORDS))
        self.n_events = 0
        self.pend = array("i", [0] * N_CONFIRM_SLOW)
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
        self.recent = array("i", [0] * (N_CONFIRM_SLOW + BACKFILL_MAX))
        self.backfilled = array("i", [0] * (2 * BACKFILL_MAX))
        # The steps of a walk on trial and their intervals, held until it has TRIAL_STEPS.
        self.trial_at = array("i", [0] * TRIAL_STEPS)
        self.trial_d = array("i", [0] * TRIAL_STEPS)
        self.reset()

    def reset(self):
        """Forget everything: the state of a board that has just booted."""
        cdef long long one_g = self.counts_per_g >> 2
        for i in range(self.m_n):
            self.m_ring[i] = one_g
        self.m_i = 0
        self.lp1 = one_g * self.mg_q9 >> 9
        self.lp2 = self.lp1
        self.bsum = self.lp2 << self.kb
        self.asum = 0
        self.mv = 0
        self.rising = 1
        self.peak = 0
        self.peak_pos = 0
        self.valley = 0
        self.held_pos = 0
        self.held_amp = 0
        # Sums of |a|, x, y, z (counts >> 2) since the interval began at win_start; the mean x, y, z and |a| (mg Q3)
        # of the last two intervals.
        self.win_start = 0
        self.sum_m = 0
        self.sum_x = 0
        self.sum_y = 0
        self.sum_z = 0
        self.sum_q = 0
        self.gx1 = 0
        self.gy1 = 0
        self.gz1 = 0
        self.gx2 = 0
        self.gy2 = 0
        self.gz2 = 0
        self.am1 = 0
        self.am2 = 0
        self.minute = 0
        self.pos = -1
        self.due = self.spm
        self.has_prev = 0
        self.cand_pos = -2 * self.d_max
        self.d_prev = 0
        self.d_step = 0
        self.d_step16 = 0  # d_step in 1/16 samples: the tracker; d_step is it rounded
        self.run_n = 0
        self.walking = 0
        self.trial = 0
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
        self.veto_pos = POS_FLOOR  # the last peak a check rejected: back-filling never reaches it
        self.n_events = 0

    def feed(self, const short[::1] samples, Py_ssize_t start, Py_ssize_t n):
        """Detect over samples[start:start+n] (x, y, z interleaved int16 counts). Returns how many samples
        were consumed (n unless the event buffer filled: call again with the rest after reading events)."""
        if start < 0 or n < 0 or 3 * (start + n) > samples.shape[0]:
            raise IndexError(f"feed: samples[{start}:{start + n}] is outside the {samples.shape[0] // 3} "
                             f"samples given")
        cdef Py_ssize_t i, j
        cdef long long x, y, z, m2, a3, hp, ahp
        cdef const unsigned short* p = ptr16(samples)
        self.n_events = 0
        cdef int ev_limit = EV_CAP - EV_HEADROOM
        cdef long long mg_q9 = self.mg_q9
        cdef long long k_lp = self.k_lp
        cdef long long kb = self.kb
        cdef long long ka = self.ka
        cdef long long thr_min = self.thr_min
        cdef long long m
        cdef int* m_ring = ptr32(self.m_ring)
        cdef long long m_n = self.m_n
        cdef long long m_i = self.m_i
        cdef long long lp1 = self.lp1
        cdef long long lp2 = self.lp2
        cdef long long bsum = self.bsum
        cdef long long asum = self.asum
        cdef long long mv = self.mv
        cdef long long rising = self.rising
        cdef long long peak = self.peak
        cdef long long valley = self.valley
        cdef long long peak_pos = self.peak_pos
        cdef long long pos = self.pos
        cdef long long due = self.due
        cdef long long sum_m = self.sum_m
        cdef long long sum_x = self.sum_x
        cdef long long sum_y = self.sum_y
        cdef long long sum_z = self.sum_z
        cdef long long sum_q = self.sum_q
        cdef long long one_g = self.counts_per_g >> 2
        cdef long long kq = self.kq
        cdef long long q
        j = 3 * start
        cdef Py_ssize_t done = n
        with nogil:
            for i in range(n):
                pos += 1
                if pos == due:
                    if self.n_events > ev_limit:
                        pos -= 1
                        done = i
                        break
                    self.pos = pos
                    self.peak_pos = peak_pos
                    self.sum_m = sum_m
                    self.sum_x = sum_x
                    self.sum_y = sum_y
                    self.sum_z = sum_z
                    self.sum_q = sum_q
                    mv = self.reach_due(mv)
                    pos = self.pos
                    due = self.due
                    peak_pos = self.peak_pos
                    sum_m = self.sum_m
                    sum_x = self.sum_x
                    sum_y = self.sum_y
                    sum_z = self.sum_z
                    sum_q = self.sum_q
                x = ((p[j] ^ 0x8000) - 0x8000) >> 2
                y = ((p[j + 1] ^ 0x8000) - 0x8000) >> 2
                z = ((p[j + 2] ^ 0x8000) - 0x8000) >> 2
                j += 3
                m2 = x * x + y * y + z * z
                m = m_ring[m_i]
                m = (m + m2 // m + 1) >> 1  # C division is floor here: m2 >= 0 and m >= 1 (m = 1 is a fixed point)
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
                hp = (bsum >> kb) - lp2
                ahp = hp if hp >= 0 else -hp
                asum += ahp - (asum >> ka)
                mv += ahp >> 3
                if rising:
                    if hp > peak:
                        peak = hp
                        peak_pos = pos
                    elif hp < peak - ((asum >> ka) * SWING_EIGHTHS >> 3) - thr_min:
                        if peak > thr_min:
                            self.pos = pos
                            self.sum_m = sum_m
                            self.sum_x = sum_x
                            self.sum_y = sum_y
                            self.sum_z = sum_z
                            self.sum_q = sum_q
                            self.lobe(peak_pos, peak)
                            sum_m = self.sum_m
                            sum_x = self.sum_x
                            sum_y = self.sum_y
                            sum_z = self.sum_z
                            sum_q = self.sum_q
                        rising = 0
                        valley = hp
                        if self.n_events > ev_limit:
                            done = i + 1
                            break
                elif hp < valley:
                    valley = hp
                elif hp > valley + ((asum >> ka) * SWING_EIGHTHS >> 3) + thr_min:
                    rising = 1
                    peak = hp
                    peak_pos = pos
        self.m_i = m_i
        self.lp1 = lp1
        self.lp2 = lp2
        self.bsum = bsum
        self.asum = asum
        self.mv = mv
        self.rising = rising
        self.peak = peak
        self.valley = valley
        self.peak_pos = peak_pos
        self.pos = pos
        self.due = due
        self.sum_m = sum_m
        self.sum_x = sum_x
        self.sum_y = sum_y
        self.sum_z = sum_z
        self.sum_q = sum_q
        return done

    @cython.boundscheck(True)
    cdef int emit(self, long long kind, long long minute, long long a, long long b, long long c,
                  long long d) except -1 nogil:
        cdef Py_ssize_t k = self.n_events * EV_WORDS
        cdef int[::1] ev = self.events
        ev[k] = kind
        ev[k + 1] = minute
        ev[k + 2] = a
        ev[k + 3] = b
        ev[k + 4] = c
        ev[k + 5] = d
        self.n_events += 1
        return 0

    cdef int lobe(self, long long at, long long amp) except -1 nogil:
        """A peak at `at` (depth amp, mg Q3). Peaks closer than d_min are one movement: the highest of them is
        held until no higher one follows within d_min, then it becomes a step candidate."""
        if self.held_amp:
            if at - self.held_pos < self.d_min:
                if amp > self.held_amp:
                    self.held_pos = at
                    self.held_amp = amp
                return 0
            self.candidate(self.held_pos, self.held_amp)
        self.held_pos = at
        self.held_amp = amp
        return 0

    cdef int release(self, long long now) except -1 nogil:
        """A held peak with no rival left in reach is a candidate."""
        cdef long long amp
        if self.held_amp and now - self.held_pos >= self.d_min:
            amp = self.held_amp
            self.held_amp = 0
            self.candidate(self.held_pos, amp)
        return 0

    cdef int candidate(self, long long at, long long depth) except -1 nogil:
        """A peak at `at` (depth in mg Q3) is a step if it continues walking or completes a regular rhythm. The
        interval of the running sums ends here."""
        cdef long long n = self.pos - self.win_start
        self.win_start = self.pos
        cdef long long sum_m = self.sum_m
        cdef long long sum_x = self.sum_x
        cdef long long sum_y = self.sum_y
        cdef long long sum_z = self.sum_z
        cdef long long sum_q = self.sum_q
        self.sum_m = 0
        self.sum_x = 0
        self.sum_y = 0
        self.sum_z = 0
        self.sum_q = 0
        cdef long long d = at - self.cand_pos
        self.cand_pos = at
        self.recent[self.recent_next] = at
        self.recent_next = self.recent_next + 1 if self.recent_next + 1 < N_CONFIRM_SLOW + BACKFILL_MAX else 0
        if self.recent_n < N_CONFIRM_SLOW + BACKFILL_MAX:
            self.recent_n += 1
        cdef bint fits = self.d_min <= d <= self.d_max
        if self.walking:
            if fits or self.hides_step(d):
                self.walk_on(at, d)
                return 0
            self.end_walk()
        if not fits:
            self.pend[0] = at
            self.run_n = 1
            return 0
        if self.run_n >= 2 and (d - self.d_prev if d > self.d_prev else self.d_prev - d) * 8 > self.d_prev * REGULAR_EIGHTHS:
            self.pend[0] = self.pend[self.run_n - 1]
            self.run_n = 1
        # Only a pending peak needs the interval's features (the turns of the first two are not used, so nothing
        # is computed while walking).
        if n <= 0:
            n = 1
        cdef long long half = n >> 1
        cdef long long mean_m = floordiv(sum_m + half, n)
        cdef long long gx = floordiv(sum_x + half, n)
        cdef long long gy = floordiv(sum_y + half, n)
        cdef long long gz = floordiv(sum_z + half, n)
        cdef long long turn = apart(gx, gy, gz, self.gx2, self.gy2, self.gz2)
        self.gx2 = self.gx1
        self.gy2 = self.gy1
        self.gz2 = self.gz1
        self.gx1 = gx
        self.gy1 = gy
        self.gz1 = gz
        cdef long long g = root_below(gx * gx + gy * gy + gz * gz, mean_m)
        cdef long long am = mean_m * self.mg_q9 >> 9
        self.pend_wander[self.run_n] = am - self.am2 if am > self.am2 else self.am2 - am
        self.am2 = self.am1
        self.am1 = am
        self.pend[self.run_n] = at
        self.pend_depth[self.run_n] = depth
        self.pend_side[self.run_n] = (mean_m - g) * self.mg_q9 >> 9
        self.pend_turn[self.run_n] = turn * (self.mg_q9 >> 3) >> 9
        self.pend_gx[self.run_n] = gx
        self.pend_gy[self.run_n] = gy
        self.pend_gz[self.run_n] = gz
        # Variance of |a| from the sum of (|a| - 1 g)^2, and across gravity: mean |a|^2 minus |mean a|^2.
        cdef long long r0 = mean_m - (self.counts_per_g >> 2)
        cdef long long vm = floordiv(sum_q + half, n) - (r0 * r0 >> self.kq)
        cdef long long vx = (mean_m * mean_m - gx * gx - gy * gy - gz * gz) >> self.kq
        self.pend_vm[self.run_n] = vm if vm > 0 else 0
        self.pend_vx[self.run_n] = vx if vx > 0 else 0
        self.run_n += 1
        self.d_prev = d
        # Three troughs hold no stride-to-stride turn for arm_work, so a resumed rhythm that moves sideways like arm work
        # (brushing teeth after a false walk) waits for N_CONFIRM and the whole check.
        cdef long long need = N_RESUME if self.bout_steps and self.pend[0] - self.bout_end <= self.bout_gap and not self.side_over(ARM_EIGHTHS) else N_CONFIRM
        if need == N_CONFIRM and N_CONFIRM <= self.run_n < N_FLAT and (self.flat() or self.posture_change()):
            need = N_FLAT
        if self.run_n == N_CONFIRM_SLOW or (self.run_n >= need and at - self.pend[0] <= self.d_slow * (self.run_n - 1)):
            if self.arm_work() or self.vehicle_like():
                self.veto_pos = self.pend[0]
                self.drop_first()
                return 0
            self.confirm_run()
        return 0

    cdef int arm_work(self) except -1 nogil:
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
        cdef int across = 0
        cdef Py_ssize_t k
        for k in range(1, self.run_n):
            if self.pend_vx[k] * 8 >= self.pend_vm[k] * ACROSS_EIGHTHS:
                across += 1
        return 1 if across * 2 > self.run_n - 1 else 0

    cdef int side_over(self, long long eighths) except -1 nogil:
        """The pending rhythm moves the wrist sideways over eighths/8 of its trough depth. The first peak's interval
        may hold the stillness before the rhythm and is left out."""
        return 1 if self.run_sum(self.pend_side, 1) * 8 > self.run_sum(self.pend_depth, 1) * eighths else 0

    cdef int turned(self, long long turn_mg) except -1 nogil:
        """The pending rhythm (run_n > 3) turns the wrist over turn_mg per stride. The turns of the first two peaks
        compare with intervals before the rhythm and are left out."""
        return 1 if self.run_sum(self.pend_turn, 3) > turn_mg * (self.run_n - 3) else 0

    cdef int vehicle_like(self) except -1 nogil:
        """The pending rhythm is shallow (mean trough depth under SHALLOW_MG) and wanders by WANDER_EIGHTHS."""
        if self.run_n <= 3 or self.run_sum(self.pend_depth, 3) >= (SHALLOW_MG << 3) * (self.run_n - 3):
            return 0
        return self.wanders(WANDER_EIGHTHS)

    cdef int wanders(self, long long eighths) except -1 nogil:
        """From stride to stride (trough k against k-2) both the pending rhythm's depth and its mean |a| move over
        eighths/8 of its depth. The first two intervals compare with intervals before the rhythm and are left out
        (run_n > 3)."""
        cdef long long depth = 0
        cdef long long depth_moved = 0
        cdef long long mean_moved = 0
        cdef long long now, before
        cdef Py_ssize_t k
        for k in range(3, self.run_n):
            now = self.pend_depth[k]
            before = self.pend_depth[k - 2]
            depth += now
            depth_moved += now - before if now > before else before - now
            mean_moved += self.pend_wander[k]
        return 1 if depth_moved * 8 > depth * eighths and mean_moved * 8 > depth * eighths else 0

    cdef int flat(self) except -1 nogil:
        """The pending rhythm is shallow (mean trough depth under SHALLOW_MG) and moves sideways under
        FLAT_SIDE_MG per interval: a vehicle's heave along gravity. As in arm_work, the first interval is left out."""
        cdef long long depth = self.run_sum(self.pend_depth, 1)
        return 1 if depth < (SHALLOW_MG << 3) * (self.run_n - 1) and self.run_sum(self.pend_side, 1) < (FLAT_SIDE_MG << 3) * (self.run_n - 1) else 0

    cdef int posture_change(self) except -1 nogil:
        """The pending rhythm turns gravity by over POSTURE_MG from its second interval to its last and wanders by
        POSTURE_WANDER_EIGHTHS (as vehicle_like, without the depth gate): a body changing posture, not a gait."""
        if self.run_n <= 3:
            return 0
        cdef Py_ssize_t last = self.run_n - 1
        cdef long long moved = apart(self.pend_gx[last], self.pend_gy[last], self.pend_gz[last],
                                     self.pend_gx[1], self.pend_gy[1], self.pend_gz[1])
        if moved * (self.mg_q9 >> 3) >> 9 <= POSTURE_MG:
            return 0
        return self.wanders(POSTURE_WANDER_EIGHTHS)

    cdef long long run_sum(self, int[::1] ring, Py_ssize_t first) noexcept nogil:
        """A pending feature summed over the rhythm from its interval `first` on: 1 leaves out the first (it may hold
        the stillness before), 3 also the two whose stride-to-stride features compare with intervals before it."""
        cdef long long total = 0
        cdef Py_ssize_t k
        for k in range(first, self.run_n):
            total += ring[k]
        return total

    cdef int drop_first(self) except -1 nogil:
        """Forget the oldest pending peak: the rhythm may still start at a later one."""
        cdef Py_ssize_t k
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
        return 0

    cdef int confirm_run(self) except -1 nogil:
        """A regular rhythm: every peak in it was a step, and so were the back-filled ones before it. The first
        step's interval is taken to equal the second's, so the stretch starts one step before the first heel
        strike."""
        cdef int[::1] pend = self.pend
        cdef long long first_d = pend[1] - pend[0]
        if self.minute == 0 and first_d > pend[0]:
            first_d = pend[0]  # walking already when the detector started: the stretch starts at sample 0
        cdef Py_ssize_t k
        self.walking = 1
        self.seg_steps = 0
        self.trial = 1 if self.run_n > 3 and self.turned(TRIAL_TURN_MG) else 0
        self.d_step = floordiv(pend[self.run_n - 1] - pend[0], self.run_n - 1)
        self.d_step16 = self.d_step << 4
        cdef long long n_back = self.backfill(first_d)
        cdef int[::1] back
        if n_back:
            back = self.backfilled
            self.seg_start = back[n_back - 1] - first_d
            self.count_step(back[n_back - 1], first_d)
            for k in range(n_back - 2, -1, -1):
                self.count_step(back[k], back[k] - back[k + 1])
            self.count_step(pend[0], pend[0] - back[0])
        else:
            self.seg_start = pend[0] - first_d
            self.count_step(pend[0], first_d)
        for k in range(1, self.run_n):
            self.count_step(pend[k], pend[k] - pend[k - 1])
        self.run_n = 0
        return 0

    cdef long long backfill(self, long long first_d) except -1 nogil:
        """Walk back from the rhythm's first peak over the uncounted candidates before it while each continues
        the cadence; fill self.backfilled (newest first) and return how many steps, 0 if fewer than
        BACKFILL_MIN peaks. Stops where the walk would start before the last counted step or in a minute already
        reported, and at a peak a check rejected."""
        cdef long long d_step = self.d_step
        cdef long long earliest = -self.spm if self.has_prev else 0
        cdef long long ring = N_CONFIRM_SLOW + BACKFILL_MAX
        cdef long long k = self.recent_next - self.run_n - 1
        cdef long long left = self.recent_n - self.run_n
        cdef long long later = self.pend[0]
        cdef long long n_back = 0
        cdef long long peaks = 0
        cdef long long at, d
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
        return n_back if peaks >= BACKFILL_MIN else 0

    cdef int hides_step(self, long long d) except -1 nogil:
        """While walking, an interval past d_max that is 13/8..19/8 of the step interval (a step whose peak was too
        small to see: the wrist's weaker side, a 12.5 Hz watch) continues the walk; walk_on counts both. Never one
        long step: d_step would grow past d_max and keep a standing wearer walking."""
        return 1 if d > self.d_max and self.d_step * DOUBLE_FROM_EIGHTHS <= d * 8 <= self.d_step * DOUBLE_TO_EIGHTHS else 0

    cdef int walk_on(self, long long at, long long d) except -1 nogil:
        """A step while walking. An interval near twice the walker's own step interval hides a step whose
        peak was too small to see (the wrist's weaker side): count it at the midpoint."""
        cdef long long d_step = self.d_step
        cdef long long half
        if d * 8 >= d_step * DOUBLE_FROM_EIGHTHS and d * 8 <= d_step * DOUBLE_TO_EIGHTHS:
            half = d >> 1
            self.count_step(at - d + half, half)
            self.count_step(at, d - half)
            return 0
        self.count_step(at, d)
        self.d_step16 += floordiv((d << 4) - self.d_step16, self.quantum16 << 2) * self.quantum16
        self.d_step = (self.d_step16 + 8) >> 4
        return 0

    cdef int count_step(self, long long at, long long d) except -1 nogil:
        """A step of the current walk: counted at once, or held while the walk is on trial."""
        self.seg_end = at
        self.seg_steps += 1
        if not self.trial:
            self.tally(at, d)
            return 0
        self.trial_at[self.trial_n] = at
        self.trial_d[self.trial_n] = d
        self.trial_n += 1
        cdef Py_ssize_t k
        if self.trial_n == TRIAL_STEPS:
            self.trial = 0
            self.trial_n = 0
            for k in range(TRIAL_STEPS):
                self.tally(self.trial_at[k], self.trial_d[k])
        return 0

    cdef int tally(self, long long at, long long d) except -1 nogil:
        """Count a step at `at` whose interval d began in this minute or the previous one."""
        self.emit(EV_STEP, self.minute, at, 0, 0, 0)
        if at < 0:
            self.prev_steps += 1
        else:
            self.cur_steps += 1
        cdef long long begin = at - d
        if at <= 0:
            self.prev_walk += d
        elif begin >= 0:
            self.cur_walk += d
        else:
            self.prev_walk -= begin
            self.cur_walk += at
        return 0

    cdef int end_walk(self) except -1 nogil:
        """The current stretch of walking is over: report it and grow or close the bout; or forget it, on trial."""
        self.walking = 0
        if self.trial:
            self.trial = 0
            self.trial_n = 0
            self.veto_pos = self.seg_end
            return 0
        self.emit(EV_WALK, self.minute, self.seg_start, self.seg_end, self.seg_steps, 0)
        if self.bout_steps and self.seg_start - self.bout_end <= self.bout_gap:
            self.bout_end = self.seg_end
            self.bout_steps += self.seg_steps
            return 0
        self.close_bout()
        self.bout_start = self.seg_start
        self.bout_end = self.seg_end
        self.bout_steps = self.seg_steps
        return 0

    cdef int close_bout(self) except -1 nogil:
        cdef long long length = self.bout_end - self.bout_start
        cdef long long cadence
        if self.bout_steps and length >= self.bout_min:
            cadence = floordiv(self.bout_steps * self.spm, length)
            self.emit(EV_BOUT, self.minute, self.bout_start, self.bout_end, self.bout_steps, cadence)
        self.bout_steps = 0
        return 0

    cdef int settle(self, long long now) except -1 nogil:
        """Close what time alone ends: walking with no step for d_max and past a hidden step's reach (see
        hides_step), a bout with no walking for bout_gap."""
        self.release(now)
        if self.walking and now - self.cand_pos > self.d_max and (now - self.cand_pos) * 8 > self.d_step * DOUBLE_TO_EIGHTHS:
            self.end_walk()
        if self.bout_steps and not self.walking and now - self.bout_end > self.bout_gap:
            self.close_bout()
        return 0

    cdef long long reach_due(self, long long mv) except -1 nogil:  # mv >= 0: -1 only ever means an error
        """pos reached `due`: either a minute ended (roll over) or the previous minute can be reported."""
        self.settle(self.pos)
        if self.pos == self.spm:
            self.roll_minute(mv)
            return 0
        self.report_prev()
        self.due = self.spm
        return mv

    cdef int roll_minute(self, long long mv) except -1 nogil:
        cdef long long spm = self.spm
        cdef Py_ssize_t k
        if self.has_prev:
            self.report_prev()
        self.prev_walk = self.cur_walk
        self.prev_steps = self.cur_steps
        self.prev_move = floordiv(mv, spm)
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
        for k in range(self.run_n):
            self.pend[k] = aged(self.pend[k], spm, POS_FLOOR)
        for k in range(self.trial_n):
            self.trial_at[k] = aged(self.trial_at[k], spm, POS_FLOOR)
        for k in range(self.recent_n):
            self.recent[k] = aged(self.recent[k], spm, POS_FLOOR)
        self.veto_pos = aged(self.veto_pos, spm, POS_FLOOR)
        # A previous peak older than two d_max is as good as none.
        self.cand_pos = aged(self.cand_pos, spm, -2 * self.d_max)
        # An interval longer than 2 d_max holds no step: restart it, which keeps the sums small ints.
        if spm - self.win_start > 2 * self.d_max:
            self.win_start = -1
            self.sum_m = 0
            self.sum_x = 0
            self.sum_y = 0
            self.sum_z = 0
            self.sum_q = 0
        else:
            self.win_start -= spm
        return 0

    cdef int report_prev(self) except -1 nogil:
        self.report(self.minute - 1, self.prev_walk, self.prev_steps, self.prev_move)
        self.has_prev = 0
        return 0

    cdef int report(self, long long minute, long long walk, long long steps, long long move) except -1 nogil:
        cdef long long walk_s = floordiv(walk * 1000 + floordiv(self.rate_mhz, 2), self.rate_mhz)
        cdef int pace = pace_of(steps, walk, self.spm)
        self.emit(EV_MINUTE, minute, walk_s if walk_s < 60 else 60, steps, pace, move)
        return 0

    def flush(self):
        """End of input (host replay): close walking and bouts and report every minute still open."""
        self.n_events = 0
        self.settle(self.pos + self.d_max + self.bout_gap + 1)
        if self.has_prev:
            self.report_prev()
        cdef long long n = self.pos + 1
        if n > 0:
            self.report(self.minute, self.cur_walk, self.cur_steps, floordiv(self.mv, n))
        return self.n_events
