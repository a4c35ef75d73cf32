# walkdose's emulated board for MicroPython's ports/qemu (passed as BOARD_DIR): QEMU's mps2-an386, a Cortex-M4
# with single-precision FPU as in the nRF52840, so the firmware's .mpy files for -march=armv7emsp run as built.
QEMU_ARCH = arm
QEMU_MACHINE = mps2-an386

CFLAGS += -mthumb -mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16
CFLAGS += -DQEMU_SOC_MPS2
CFLAGS += -DMICROPY_HW_MCU_NAME='"Cortex-M4F"'
# The day store's littlefs; the machine has no clock for file times, so littlefs stamps every file with 0.
CFLAGS += -D'mp_hal_time_ns()=0ULL'

# The machine's 16 MB PSRAM, which neither the firmware nor a soft reset touches: the ROM filesystem QEMU loads
# (host/qemu.py), then the board's 256 KB flash and the simulator's state, both kept across resets as on a board.
CFLAGS += -DWALKDOSE_ROM_ADDR=0x21000000 -DWALKDOSE_ROM_BYTES=0x00f00000
CFLAGS += -DWALKDOSE_FLASH_ADDR=0x21f00000 -DWALKDOSE_FLASH_BYTES=0x00040000 -DWALKDOSE_STATE_ADDR=0x21f40000
# Boot as a board port does: /rom/boot.py, then main.py (host/qemu_board/walkdose_board.c).
CFLAGS += -D'MICROPY_PORT_INIT_FUNC=do { extern void walkdose_board_init(void); walkdose_board_init(); } while (0)'
SRC_C += $(BOARD_DIR)/walkdose_board.c
LDFLAGS += -Wl,--wrap=uart_rx_any -Wl,--wrap=uart_rx_chr

LDSCRIPT = mcu/arm/mps2.ld
SRC_BOARD_O = shared/runtime/gchelper_native.o shared/runtime/gchelper_thumb2.o
MPY_CROSS_FLAGS += -march=armv7emsp

MICROPY_FLOAT_IMPL = float
SUPPORTS_HARDWARE_FP_SINGLE = 1
MICROPY_VFS_LFS2 = 1
# 2 MB, more than a board has: the power-cut sweep holds four 128 KB flash images at once, as on the unix port.
MICROPY_HEAP_SIZE = 2097152
