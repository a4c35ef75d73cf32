"""Board profiles as plain data (pins, bus, IMU, rates, cue, battery, USB ids, mpy-cross arch) and the few
builders that turn one profile into a machine.I2C, the IMU driver, the identity the link reports and the
target cue. Never holds logic of the loop (firmware/app.py). The builders import `machine` when they run, never
at import (the host reads the profiles): on a board the port's own, in the simulator sim/fake_machine.py,
installed in its place, so each board's stubs check every call made to it.

Pins are the MicroPython port's integer pin ids (nrf: P0.n = n, P1.n = 32 + n; rp2 and esp32: GPIO n).

Sleep between FIFO reads is time.sleep_ms() on all four boards, never machine.lightsleep():
- nrf (XIAO, Nano 33 BLE): the port's lightsleep ignores its time argument (it waits for any
  interrupt), while sleep_ms() already idles the CPU (WFE, System ON) between 1 ms ticks.
- rp2 (Nano RP2040 Connect): lightsleep(ms) stops the USB clock, so the serial sync link drops while
  the board sleeps; sleep_ms() waits in WFE with USB alive.
- esp32 (M5StickC Plus2): lightsleep(ms) works, but UART0 (the CH9102 USB bridge that carries the
  link) loses what arrives while asleep; sleep_ms() keeps it listening at the cost of battery life.
"""
from .compat import const

BOARD_FILE = "walkdose_board.txt"  # written by `walkdose flash` beside main.py: "NAME VERSION"
POWER_UP_MS = const(50)  # LSM6DS3TR-C turn-on time is 35 ms (DS 4.1); the others need less

# rate_mhz: the rate the board runs at; rates_mhz: the rates of its IMU the detector is evaluated at, which
# the host's `--rate` may choose (tests/test_boards.py checks the driver makes each exactly).
# The primary board first: listings show the profiles in this order.
PROFILES = {
    # Seeed XIAO nRF52840 Sense. Pins from MicroPython ports/nrf/boards/SEEED_XIAO_NRF52 (pins.csv:
    # IMU_SDA P0.07, IMU_SCL P0.27, IMU_PWR P1.08, READ_BAT P0.14, ADC0_BAT P0.31; mpconfigboard.h:
    # LEDs P0.26 red, P0.30 green, P0.06 blue, active low; USB 2886:0045) and the Seeed wiki
    # (LSM6DS3TR-C at 0x6A; battery through a 1 M / 510 k divider, enabled by driving P0.14 low).
    "xiao-nrf52840-sense": {
        "title": "Seeed XIAO nRF52840 Sense",
        "port": "nrf", "micropython_board": "SEEED_XIAO_NRF52", "march": "armv7emsp",
        "i2c": (0, 27, 7, 400000),  # id, scl, sda, Hz
        "power_pins": ((40, 1),),  # IMU_PWR: the LSM6DS3TR-C is powered from this GPIO (high drive)
        "imu": "LSM6DS3TRC", "imu_module": "imu_lsm6ds3trc", "imu_address": 0x6A,
        "rate_mhz": 52000, "rates_mhz": (12500, 26000, 52000, 104000), "counts_per_g": 4096,
        "led": (30, 0),  # green, active low
        "battery": {"adc_pin": 31, "enable": (14, 0), "num": 1510, "den": 510, "full_scale_mv": 3300,
                    "atten_db": 0},  # nrf SAADC as MicroPython sets it: gain 1/4, VDD/4 reference
        "usb": ((0x2886, 0x0045),),
        "imu_config": None,
    },
    # Arduino Nano 33 BLE Sense Rev2. MicroPython ports/nrf/boards/ARDUINO_NANO_33_BLE_SENSE (imu.py:
    # I2C(1, scl=15, sda=14), BMI270 at 0x68; board.c: P0.22 powers the sensors, P1.00 the I2C
    # pull-ups; mpconfigboard.h: RGB LED P0.24/P0.16/P0.06 active low, yellow P0.13; USB 2341:025A).
    # No battery input on this board.
    "nano33-ble-sense-rev2": {
        "title": "Arduino Nano 33 BLE Sense Rev2",
        "port": "nrf", "micropython_board": "ARDUINO_NANO_33_BLE_SENSE", "march": "armv7emsp",
        "i2c": (1, 15, 14, 400000),
        "power_pins": ((22, 1), (32, 1)),
        "imu": "BMI270", "imu_module": "imu_bmi270", "imu_address": 0x68,
        "rate_mhz": 50000, "rates_mhz": (12500, 25000, 50000, 100000), "counts_per_g": 4096,
        "led": (16, 0),  # green of the RGB LED, active low
        "battery": None,
        "usb": ((0x2341, 0x025A),),
        "imu_config": "bmi270_config.bin",  # Bosch's config file, uploaded to the chip at every boot
    },
    # Arduino Nano RP2040 Connect. MicroPython ports/rp2/boards/ARDUINO_NANO_RP2040_CONNECT (pins.csv:
    # A4 = GPIO12 (SDA), A5 = GPIO13 (SCL), LED = GPIO6; mpconfigboard.h: USB 2341:025E) and Arduino's
    # pinout (LSM6DSOX at 0x6A on I2C0, A4/A5). No battery input on this board.
    "nano-rp2040-connect": {
        "title": "Arduino Nano RP2040 Connect",
        "port": "rp2", "micropython_board": "ARDUINO_NANO_RP2040_CONNECT", "march": "armv6m",
        "i2c": (0, 13, 12, 400000),
        "power_pins": (),
        "imu": "LSM6DSOX", "imu_module": "imu_lsm6dsox", "imu_address": 0x6A,
        "rate_mhz": 52000, "rates_mhz": (12500, 26000, 52000, 104000), "counts_per_g": 4096,
        "led": (6, 1),
        "battery": None,
        "usb": ((0x2341, 0x025E),),
        "imu_config": None,
    },
    # M5StickC Plus2 (ESP32-PICO-V3-02). M5Stack docs and forum pin tables: internal I2C SDA G21,
    # SCL G22 (MPU6886 at 0x68, BM8563 RTC), HOLD G4 must stay high or the battery switches the
    # stick off, red LED G19 (active high), battery on G38 (ADC1 channel 2) through a 2:1 divider;
    # USB through a CH9102 bridge (1A86:55D4). 50 Hz: the MPU6886's 1 kHz / (1 + SMPLRT_DIV) has no
    # 52 Hz, and the detector refuses rates without a whole number of samples per minute.
    "m5stickc-plus2": {
        "title": "M5StickC Plus2",
        "port": "esp32", "micropython_board": "ESP32_GENERIC (SPIRAM)", "march": "xtensawin",
        "i2c": (0, 22, 21, 400000),
        "power_pins": ((4, 1),),
        "imu": "MPU6886", "imu_module": "imu_mpu6886", "imu_address": 0x68,
        "rate_mhz": 50000, "rates_mhz": (12500, 25000, 50000, 100000), "counts_per_g": 4096,
        "led": (19, 1),
        "battery": {"adc_pin": 38, "enable": None, "num": 2, "den": 1, "full_scale_mv": 0, "atten_db": 11},
        "usb": ((0x1A86, 0x55D4),),
        "imu_config": None,
    },
}


def profile_named(name):
    profile = PROFILES.get(name)
    if profile is None:
        raise ValueError("board %r unknown; choose one of %s" % (name, ", ".join(sorted(PROFILES))))
    return profile


def installed(board_file=BOARD_FILE):
    """(name, firmware_version) from the file `walkdose flash` wrote beside main.py."""
    try:
        with open(board_file) as f:
            words = f.read().split()
    except OSError:
        raise OSError(2, "%s missing: install with `walkdose flash --board NAME --port PORT`" % board_file)
    if len(words) != 2:
        raise ValueError("%s should hold 'BOARD VERSION', holds %r" % (board_file, " ".join(words)))
    profile_named(words[0])
    return words[0], words[1]


def _driver_class(imu):
    # One small import per chip: a board holds only its own driver (walkdose flash copies that one).
    if imu == "LSM6DS3TRC":
        from .imu_lsm6ds3trc import LSM6DS3TRC
        return LSM6DS3TRC
    if imu == "LSM6DSOX":
        from .imu_lsm6dsox import LSM6DSOX
        return LSM6DSOX
    if imu == "BMI270":
        from .imu_bmi270 import BMI270
        return BMI270
    if imu == "MPU6886":
        from .imu_mpu6886 import MPU6886
        return MPU6886
    raise ValueError("imu %r has no driver" % imu)


def data_path(name):
    """Where a file of the firmware folder sits on this interpreter: beside this module."""
    here = __file__.replace("\\", "/")
    return here[: here.rfind("/") + 1] + name


class Identity:
    """What the link reports about the board: its id, profile name, firmware version and battery."""

    def __init__(self, name, firmware_version, battery):
        import machine

        self.device_id = "".join("%02x" % b for b in machine.unique_id())
        self.board = name
        self.firmware_version = firmware_version
        self._battery = battery
        self._adc = None
        self._enable = None
        if battery is not None:
            if battery["atten_db"]:
                self._adc = machine.ADC(machine.Pin(battery["adc_pin"]), atten=machine.ADC.ATTN_11DB)
            else:
                self._adc = machine.ADC(machine.Pin(battery["adc_pin"]))
            if battery["enable"] is not None:
                pin, level = battery["enable"]
                self._enable = (machine.Pin(pin, machine.Pin.IN), level)

    def battery_mv(self):
        """Battery voltage in mV, or -1 on a board without a battery input."""
        battery = self._battery
        adc = self._adc
        if battery is None or adc is None:
            return -1
        enable = self._enable
        if enable is not None:
            # The divider is switched on only while reading: it would drain ~3 uA all day (XIAO wiki).
            enable[0].init(enable[0].OUT, value=enable[1])
        try:
            if battery["full_scale_mv"]:
                adc_mv = adc.read_u16() * battery["full_scale_mv"] // 65535
            else:
                # esp32 only (full_scale_mv 0), calibrated from the chip's eFuse; other ports' ADC lacks read_uv
                adc_mv = adc.read_uv() // 1000  # pyright: ignore[reportAttributeAccessIssue]
        finally:
            if enable is not None:
                enable[0].init(enable[0].IN)
        return adc_mv * battery["num"] // battery["den"]


class LedCue:
    """Lights the board's LED once the day's walking target is reached, dark before."""

    def __init__(self, pin, active_level):
        import machine

        self._active = active_level
        self._pin = machine.Pin(pin, machine.Pin.OUT, value=1 - active_level)

    def show(self, reached):
        self._pin.value(self._active if reached else 1 - self._active)


class Board:
    """The parts of one board built from its profile: i2c, imu, identity and cue (a callable)."""

    def __init__(self, name, firmware_version, sleep_ms):
        import machine

        profile = profile_named(name)
        self.profile = profile
        self.power_pins = [machine.Pin(pin, machine.Pin.OUT, value=level) for pin, level in profile["power_pins"]]
        if self.power_pins:
            sleep_ms(POWER_UP_MS)
        bus_id, scl, sda, freq = profile["i2c"]
        self.i2c = machine.I2C(bus_id, scl=machine.Pin(scl), sda=machine.Pin(sda), freq=freq)
        driver = _driver_class(profile["imu"])
        extra = {"config": data_path(profile["imu_config"])} if profile["imu_config"] else {}  # the BMI270's
        self.imu = driver(self.i2c, address=profile["imu_address"], rate_mhz=profile["rate_mhz"],
                          counts_per_g=profile["counts_per_g"], **extra)
        self.identity = Identity(name, firmware_version, profile["battery"])
        pin, level = profile["led"]
        self.cue = LedCue(pin, level).show
