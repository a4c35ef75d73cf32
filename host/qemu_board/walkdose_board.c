// What ports/qemu lacks to be a board walkdose can be flashed to (docs/arm-board.md): a boot that mounts the ROM
// filesystem, runs /rom/boot.py (the board's hardware) and then main.py unless the raw REPL asked for the soft reset,
// as MicroPython's board ports do; a UART receive buffer filled by interrupt, where Ctrl-C interrupts running code,
// as a board's USB serial does; and the module `walkdose_board`: a reset that boots into main.py, the host's clock,
// idling, and a report channel to QEMU's stderr, all over Arm semihosting. Knows no firmware and no fake.
#include <string.h>

#include "py/compile.h"
#include "py/runtime.h"
#include "shared/runtime/interrupt_char.h"
#include "shared/runtime/pyexec.h"
#include "uart.h"

#define SYS_OPEN (0x01)
#define SYS_WRITE (0x05)
#define SYS_TIME (0x11)
#define SYS_ELAPSED (0x30)
#define TT_APPEND (8)  // ":tt" opened for append is the host's stderr

static uint32_t semihosting(uint32_t op, const void *block) {
    register uint32_t r0 __asm__ ("r0") = op;
    register const void *r1 __asm__ ("r1") = block;
    __asm__ volatile ("bkpt 0xab" : "+r" (r0) : "r" (r1) : "memory");
    return r0;
}

// The CMSDK UART0 of mps2-an386 (QEMU hw/char/cmsdk-apb-uart.c) holds one received byte, and QEMU hands it the
// next only from its main loop: polled, a program reads one byte per wait. Its RX interrupt (IRQ 0) fills a ring.
#define UART0 ((volatile uint32_t *)0x40004000)
#define UART_DATA (0)
#define UART_STATE (1)
#define UART_CTRL (2)
#define UART_INT (3)
#define UART_STATE_RXFULL (1 << 1)
#define UART_CTRL_RX_INTEN (1 << 3)
#define UART_INT_RX (1 << 1)
#define UART0_RX_IRQ (0)
#define SCB_VTOR (*(volatile uint32_t *)0xe000ed08)
#define NVIC_ISER0 (*(volatile uint32_t *)0xe000e100)
#define NVIC_ISPR0 (*(volatile uint32_t *)0xe000e200)

static uint8_t rx_ring[4096];
static volatile uint32_t rx_head, rx_tail;
static uint32_t vectors[16 + 32] __attribute__((aligned(256)));

static void uart0_rx_irq(void) {
    UART0[UART_INT] = UART_INT_RX;  // first: a byte arriving after the last check below raises the interrupt again
    while (UART0[UART_STATE] & UART_STATE_RXFULL) {
        if (rx_head - rx_tail == sizeof(rx_ring)) {
            UART0[UART_CTRL] &= ~UART_CTRL_RX_INTEN;  // full: the byte waits in the UART, the rest in QEMU
            return;
        }
        int c = UART0[UART_DATA] & 0xff;
        if (c == mp_interrupt_char) {
            mp_sched_keyboard_interrupt();
        } else {
            rx_ring[rx_head++ % sizeof(rx_ring)] = c;
        }
    }
}

// In place of uart.c's polled reads (linked with --wrap).
int __wrap_uart_rx_any(void) {
    return rx_head != rx_tail;
}

// The port's stdin loops on this until a byte comes: wait for an interrupt first, or QEMU spins at the REPL.
int __wrap_uart_rx_chr(void) {
    if (rx_head == rx_tail) {
        __asm__ volatile ("wfi");
        return UART_RX_NO_CHAR;
    }
    int c = rx_ring[rx_tail++ % sizeof(rx_ring)];
    if (!(UART0[UART_CTRL] & UART_CTRL_RX_INTEN)) {
        UART0[UART_CTRL] |= UART_CTRL_RX_INTEN;
        NVIC_ISPR0 = 1 << UART0_RX_IRQ;  // the waiting byte raised no interrupt while it was off
    }
    return c;
}

static void uart_rx_by_interrupt(void) {
    if (SCB_VTOR == (uint32_t)vectors) {
        return;  // a soft reset: done at power-on
    }
    memcpy(vectors, (const void *)SCB_VTOR, 16 * sizeof(uint32_t));
    vectors[16 + UART0_RX_IRQ] = (uint32_t)uart0_rx_irq;
    SCB_VTOR = (uint32_t)vectors;
    UART0[UART_CTRL] |= UART_CTRL_RX_INTEN;
    NVIC_ISER0 = 1 << UART0_RX_IRQ;
    NVIC_ISPR0 = 1 << UART0_RX_IRQ;  // a byte that came before raised no interrupt
}

static void exec_str(const char *source) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_lexer_t *lex = mp_lexer_new_from_str_len(MP_QSTR__lt_stdin_gt_, source, strlen(source), 0);
        qstr source_name = lex->source_name;
        mp_parse_tree_t tree = mp_parse(lex, MP_PARSE_FILE_INPUT);
        mp_call_function_0(mp_compile(&tree, source_name, false));
        nlr_pop();
    } else {
        mp_obj_print_exception(&mp_plat_print, MP_OBJ_FROM_PTR(nlr.ret_val));
    }
}

// MICROPY_PORT_INIT_FUNC: the end of every mp_init(), at power-on and at each soft reset.
void walkdose_board_init(void) {
    uart_rx_by_interrupt();
    exec_str("import sys, uctypes, vfs\n"
             "try:\n"
             " vfs.mount(vfs.VfsRom(uctypes.bytearray_at(" MP_STRINGIFY(WALKDOSE_ROM_ADDR) ", "
             MP_STRINGIFY(WALKDOSE_ROM_BYTES) ")), '/rom')\n"
             " sys.path.append('/rom')\n"
             "except OSError:\n"
             " pass\n");
    pyexec_file_if_exists("/rom/boot.py");
    if (pyexec_mode_kind == PYEXEC_MODE_FRIENDLY_REPL) {
        pyexec_file_if_exists("main.py");
    }
}

// machine.reset() of this board: a soft reset that boots as from power-on (main.py runs); the port's own
// machine.reset() ends QEMU.
static mp_obj_t board_reset(void) {
    pyexec_mode_kind = PYEXEC_MODE_FRIENDLY_REPL;
    mp_raise_type(&mp_type_SystemExit);
}
static MP_DEFINE_CONST_FUN_OBJ_0(board_reset_obj, board_reset);

// Whether this boot runs main.py: not after a soft reset asked for from the raw REPL (mpremote's).
static mp_obj_t board_runs_main(void) {
    return mp_obj_new_bool(pyexec_mode_kind == PYEXEC_MODE_FRIENDLY_REPL);
}
static MP_DEFINE_CONST_FUN_OBJ_0(board_runs_main_obj, board_runs_main);

// The host's UTC clock in microseconds: its epoch second at the first call, then its monotonic clock.
static mp_obj_t board_host_us(void) {
    static uint64_t epoch_us, elapsed0_ns;
    uint32_t elapsed[2];
    semihosting(SYS_ELAPSED, elapsed);
    uint64_t elapsed_ns = ((uint64_t)elapsed[1] << 32) | elapsed[0];
    if (epoch_us == 0) {
        epoch_us = (uint64_t)semihosting(SYS_TIME, NULL) * 1000000;
        elapsed0_ns = elapsed_ns;
    }
    return mp_obj_new_int_from_ull(epoch_us + (elapsed_ns - elapsed0_ns) / 1000);
}
static MP_DEFINE_CONST_FUN_OBJ_0(board_host_us_obj, board_host_us);

// Wait for the next interrupt (SysTick: 1 ms); under -icount QEMU sleeps meanwhile instead of spinning.
static mp_obj_t board_idle(void) {
    __asm__ volatile ("wfi");
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(board_idle_obj, board_idle);

// One line to QEMU's stderr: the simulator's reports, beside the UART that is the board's USB serial.
static mp_obj_t board_report(mp_obj_t line_in) {
    static uint32_t handle;
    if (handle == 0) {
        const uint32_t open[3] = {(uint32_t)":tt", TT_APPEND, 3};
        handle = semihosting(SYS_OPEN, open);
    }
    size_t len;
    const char *line = mp_obj_str_get_data(line_in, &len);
    const uint32_t write[3] = {handle, (uint32_t)line, len};
    semihosting(SYS_WRITE, write);
    const uint32_t newline[3] = {handle, (uint32_t)"\n", 1};
    semihosting(SYS_WRITE, newline);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(board_report_obj, board_report);

static const mp_rom_map_elem_t board_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_walkdose_board) },
    { MP_ROM_QSTR(MP_QSTR_reset), MP_ROM_PTR(&board_reset_obj) },
    { MP_ROM_QSTR(MP_QSTR_runs_main), MP_ROM_PTR(&board_runs_main_obj) },
    { MP_ROM_QSTR(MP_QSTR_host_us), MP_ROM_PTR(&board_host_us_obj) },
    { MP_ROM_QSTR(MP_QSTR_idle), MP_ROM_PTR(&board_idle_obj) },
    { MP_ROM_QSTR(MP_QSTR_report), MP_ROM_PTR(&board_report_obj) },
    { MP_ROM_QSTR(MP_QSTR_FLASH_ADDR), MP_ROM_INT(WALKDOSE_FLASH_ADDR) },
    { MP_ROM_QSTR(MP_QSTR_FLASH_BYTES), MP_ROM_INT(WALKDOSE_FLASH_BYTES) },
    { MP_ROM_QSTR(MP_QSTR_STATE_ADDR), MP_ROM_INT(WALKDOSE_STATE_ADDR) },
};
static MP_DEFINE_CONST_DICT(board_module_globals, board_module_globals_table);

const mp_obj_module_t walkdose_board_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&board_module_globals,
};
MP_REGISTER_MODULE(MP_QSTR_walkdose_board, walkdose_board_module);
