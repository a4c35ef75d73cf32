# The C types under which Cython compiles the firmware's detector (firmware/detector.py) into walkdose.detector.
# Declarations only: the algorithm has one home, the .py file, which MicroPython runs unchanged. Integer semantics
# stay Python's (floor `//`, arithmetic `>>`: no cdivision), so the compiled engine is the interpreted one, faster.
cimport cython

# Viper's machine word: 32 bits on a board, where every value stays within +/-2^29 (tests/test_detector_bounds.py),
# so 64 bits here give the same results.
ctypedef long long word

# MicroPython inlines const(); here they are C globals. The host reads their values from walkdose.firmware.detector.
cdef word EV_STEP, EV_WALK, EV_BOUT, EV_MINUTE, EV_WORDS, EV_CAP, EV_HEADROOM
cdef word PACE_NONE, PACE_SLOW, PACE_MODERATE, PACE_BRISK, MODERATE_FROM_SPM, BRISK_FROM_SPM
cdef word LP_CUTOFF_MHZ, BASELINE_TAU_MS, LEVEL_TAU_MS, THR_MIN_MG, SWING_EIGHTHS, STEP_MIN_MS, STEP_MAX_MS
cdef word SPIKE_MG, SPIKE_MAX_MS, SPIKE_GAP_EIGHTHS, SPIKE_LOW_MG, BUSY_EIGHTHS, SPIKE_FAST_EIGHTHS, N_CONFIRM, N_RESUME, N_CONFIRM_SLOW, SLOW_STEP_MS, REGULAR_EIGHTHS, DOUBLE_FROM_EIGHTHS, DOUBLE_TO_EIGHTHS
cdef word FIRST_DEPTH_EIGHTHS, FIRST_LEAD_EIGHTHS, RECENT, RECENT_DEPTH, RECENT_FAINT
cdef word STEP_QUANTUM_MS, BACKFILL_MIN, BACKFILL_MAX, ARM_EIGHTHS, TURN_MIN_MG, ARM_HIGH_EIGHTHS, TURN_HIGH_MG
cdef word ARM_HIGH_RATE_MHZ, ARM_WIDE_EIGHTHS, TURN_WIDE_MG, ACROSS_EIGHTHS, SHALLOW_MG, WANDER_EIGHTHS
cdef word FLAT_SIDE_MG, N_FLAT, POSTURE_MG, POSTURE_WANDER_EIGHTHS, TRIAL_TURN_MG, TRIAL_STEPS, RANGE_MOVE_EIGHTHS, ERRATIC_EIGHTHS
cdef word STRIDE_FROM_MS, STRIDE_ALT_EIGHTHS, STRIDE_SIDE_MG, STRIDE_REGULAR_EIGHTHS
cdef word BOUT_MIN_MS, BOUT_GAP_MS, JERK_MS, M_MAX, A3_Q9_PER_G, WIN_M, WIN_X, WIN_Y, WIN_Z, WIN_Q, WIN_TURNS, WIN_CREST, WIN_WORDS, WIN_RANGE1, WIN_RANGE2, WIN_ERRATIC, POS_FLOOR
cdef word CH_K_LP, CH_KB, CH_KA, CH_THR_MIN, CH_M_N, CH_M_I, CH_LP1, CH_LP2, CH_BSUM, CH_ASUM, CH_MV, CH_RISING, CH_SPIKE_GAP, CH_SPIKE_AMP, CH_SPIKE_HALF, CH_BUSY, CH_WORDS

cpdef word samples_for_ms(word ms, word rate_mhz) except *
cpdef word samples_over_ms(word ms, word rate_mhz) except *
@cython.locals(target_x1000=word, k=word, span_x1000000=word)
cpdef word shift_for_ms(word ms, word rate_mhz) except *
cpdef word lowpass_q12(word cutoff_mhz, word rate_mhz) except *
cdef word aged(word pos, word spm, word floor) noexcept
@cython.locals(k=word, pos=word)
cdef void age_all(int[::1] ring, word first, word end, word spm) noexcept
cdef word apart(word ax, word ay, word az, word bx, word by, word bz) noexcept
cdef word pace_of(word steps, word walk_samples, word spm) except *


# Methods that divide keep Python's checked `//` and pass its (impossible) ZeroDivisionError on: `except *`.
@cython.final
cdef class Detector:
    cdef readonly word rate_mhz, counts_per_g, spm, mg_q9
    cdef readonly word d_min, d_max, bout_min, bout_gap, d_slow, d_stride, d_spike_max, lag, quantum16, kq, arm_high
    cdef readonly int[::1] events, m_ring, win_sums, chain
    cdef readonly int[::1] spk, pend, pend_depth, pend_side, pend_turn, pend_wander, pend_gx, pend_gy, pend_gz, pend_vm, pend_vx
    cdef readonly int[::1] recent, backfilled, trial_at, trial_d
    cdef readonly word n_events, peak, peak_pos, valley, held_pos, held_amp
    cdef readonly word win_start, gx1, gy1, gz1, gx2, gy2, gz2, am1, am2
    cdef readonly word alt_avg, side_avg, d_prev2, d_prev3
    cdef readonly word minute, pos, due, has_prev, cand_pos, d_prev, d_step, d_step16, run_n, walking, trial, trial_n
    cdef readonly word seg_start, seg_end, seg_steps, bout_start, bout_end, bout_steps
    cdef readonly word cur_walk, cur_steps, prev_walk, prev_steps, prev_move, recent_next, recent_n, veto_pos, arm_at, double_at, spike_pos, spike_last, spk_n

    # feed()'s locals are viper's machine words; the ptr16/ptr32 views become typed memoryviews of the same items.
    @cython.locals(p="const unsigned short[::1]", m_ring="int[::1]", win="int[::1]", chain="int[::1]", i=Py_ssize_t, j=Py_ssize_t, done=Py_ssize_t,
                   ev_limit=word, mg_q9=word, k_lp=word, kb=word, ka=word, thr_min=word, m_n=word, m_i=word,
                   lp1=word, lp2=word, bsum=word, asum=word, mv=word, rising=word, peak=word, valley=word,
                   peak_pos=word, pos=word, due=word, held_pos=word, held_amp=word, spike_gap=word, spike_amp=word, spike_half=word, busy=word, took=int, full=int, spike_min=word, spike_pos=word, spike_last=word, gap=word, base=word, over=word, r=word, d_min=word, sum_m=word, sum_x=word, sum_y=word, sum_z=word, sum_q=word,
                   one_g=word, kq=word, x=word, y=word, z=word, m2=word, m=word, q=word, a3=word, hp=word, ahp=word)
    cpdef Py_ssize_t feed(self, samples, Py_ssize_t start, Py_ssize_t n) except -1
    cdef void emit(self, word kind, word minute, word a, word b, word c, word d) noexcept
    cdef int spike(self, word at, word d, word busy, word height) except? -1
    cdef void confirm_spikes(self) except *
    cdef void release(self, word now) except *
    cdef void clear_sums(self) noexcept
    cdef void candidate(self, word at, word depth) except *
    cdef int alternates(self, word d) noexcept
    cdef int arm_work(self) noexcept
    cdef int side_over(self, word eighths) noexcept
    cdef int turned(self, word turn_mg) noexcept
    cdef int vehicle_like(self) noexcept
    cdef int wanders(self, word eighths) noexcept
    cdef int flat(self) noexcept
    cdef int posture_change(self) noexcept
    cdef word run_sum(self, int[::1] ring, word first) noexcept
    cdef word run_alt(self) noexcept
    cdef void drop_first(self) noexcept
    cdef void confirm_run(self) except *
    cdef int stride_of(self, word d) noexcept
    cdef int backfill(self, word first_d) noexcept
    cdef int hides_step(self, word d) noexcept
    cdef void walk_on(self, word at, word d) except *
    cdef void count_double(self, word hidden) noexcept
    cdef void count_step(self, word at, word d) noexcept
    cdef void hold(self, word at, word d) except *
    cdef void drop_held(self, word at) except *
    cdef void release_held(self) noexcept
    cdef void report_walk(self) except *
    cdef void end_walk(self) except *
    cdef void close_bout(self) except *
    cdef void settle(self, word now) except *
    cdef word reach_due(self, word mv) except *
    cdef void roll_minute(self, word mv) except *
    cdef void report_prev(self) except *
    cdef void report(self, word minute, word walk, word steps, word move) except *
    cpdef int flush(self) except -1
