"""Finding a board's port from the profiles' USB ids, as `walkdose sync` and `walkdose flash` do without --port."""
from types import SimpleNamespace

import pytest

from walkdose import cli, ports
from walkdose.errors import UserError
from walkdose.firmware import boards

XIAO_USB = boards.PROFILES["xiao-nrf52840-sense"]["usb"][0]
NANO_USB = boards.PROFILES["nano-rp2040-connect"]["usb"][0]


def listed(monkeypatch, *devices):
    """The system lists these (device, (vid, pid) or None) serial ports."""
    found = [SimpleNamespace(device=d, vid=ids[0] if ids else None, pid=ids[1] if ids else None) for d, ids in devices]
    monkeypatch.setattr(ports.list_ports, "comports", lambda: found)


def test_the_one_board_port_is_found_among_others(monkeypatch):
    listed(monkeypatch, ("/dev/ttyS0", None), ("/dev/ttyUSB0", (0x0403, 0x6001)), ("/dev/ttyACM0", XIAO_USB))
    assert ports.find() == "/dev/ttyACM0" and ports.find("xiao-nrf52840-sense") == "/dev/ttyACM0"
    with pytest.raises(UserError, match="no serial port of the Arduino Nano RP2040 Connect found"):
        ports.find("nano-rp2040-connect")


def test_several_or_no_boards_ask_for_port(monkeypatch):
    listed(monkeypatch, ("/dev/ttyACM0", XIAO_USB), ("/dev/ttyACM1", NANO_USB))
    with pytest.raises(UserError, match=r"several ports of a supported board: /dev/ttyACM0 \(xiao-nrf52840-sense\), "
                                        r"/dev/ttyACM1 \(nano-rp2040-connect\); choose one with --port"):
        ports.find()
    assert ports.find("nano-rp2040-connect") == "/dev/ttyACM1"
    listed(monkeypatch, ("/dev/ttyS0", None))
    with pytest.raises(UserError, match="plug it in .* or name it with --port"):
        ports.find()


def test_sync_without_a_port_and_without_a_board_is_one_line(monkeypatch, capsys, tmp_path):
    listed(monkeypatch)
    assert cli.main(["sync", "--db", str(tmp_path / "w.sqlite")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no serial port of a supported board found" in err


def test_flash_dry_run_needs_no_port_and_keeps_its_files(capsys):
    assert cli.main(["flash", "--board", "xiao-nrf52840-sense", "--dry-run"]) == 0
    out = capsys.readouterr().out
    kept = out.split("files kept in ")[1].split(")")[0]
    assert " on PORT," in out and "mpremote connect PORT" in out
    assert (__import__("os").path.isdir(kept)) and "detector.mpy" in out
