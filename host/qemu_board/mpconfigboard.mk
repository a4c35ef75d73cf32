# walkdose's emulated board for MicroPython's ports/qemu (passed as BOARD_DIR): QEMU's mps2-an386, a Cortex-M4
# with single-precision FPU as in the nRF52840, so the firmware's .mpy files for -march=armv7emsp run as built.
QEMU_ARCH = arm
QEMU_MACHINE = mps2-an386

CFLAGS += -mthumb -mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16
CFLAGS += -DQEMU_SOC_MPS2
CFLAGS += -DMICROPY_HW_MCU_NAME='"Cortex-M4F"'
# The day store's littlefs; the machine has no clock for file times, so littlefs stamps every file with 0.
CFLAGS += -D'mp_hal_time_ns()=0ULL'

LDSCRIPT = mcu/arm/mps2.ld
SRC_BOARD_O = shared/runtime/gchelper_native.o shared/runtime/gchelper_thumb2.o
MPY_CROSS_FLAGS += -march=armv7emsp

MICROPY_FLOAT_IMPL = float
SUPPORTS_HARDWARE_FP_SINGLE = 1
MICROPY_VFS_LFS2 = 1
# 2 MB, more than a board has: the power-cut sweep holds four 128 KB flash images at once, as on the unix port.
MICROPY_HEAP_SIZE = 2097152
