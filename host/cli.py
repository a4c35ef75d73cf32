"""The `walkdose` command line: one table of commands, each a module with configure(parser) and run(args), and
the one place that turns their errors into messages and exit statuses. Holds no algorithm."""
import argparse
import importlib
import importlib.metadata
import sys
import warnings

from .errors import UserError

# name -> (module, help): the wearer's path first, then the detector's tools. Each module has configure(parser),
# which adds the command's options, and run(args) -> exit status; bad input raises errors.UserError.
COMMANDS = {
    "demo": ("demo", "simulate a board on the shipped walks for a few days, sync it, show the report"),
    "sim": ("simulate", "a simulated board running the real firmware on a pty, wearing recordings as its days"),
    "sync": ("sync", "pull the days a board holds over USB serial into the local database and set its clock"),
    "report": ("report", "daily walking minutes against the HUNT bands and today's target; --json, --plot FILE.png"),
    "plan": ("plan", "a progressive daily walking target from your baseline week; --goal/--step/--start set it"),
    "export": ("export", "days or minutes from the database as CSV or JSON for spreadsheets and research"),
    "boards": ("boards", "the supported boards: IMU, rate, mpy-cross architecture, MicroPython firmware to install"),
    "flash": ("flash", "put the firmware on a board (mpy-cross, mpremote), set its clock, check it answers"),
    "replay": ("replay_command", "run the detector over a recording (t,x,y,z CSV) or a folder of them"),
    "eval": ("eval_command", "accuracy against NAME.truth.json files, per dataset and placement"),
    "days": ("days_command", "walking minutes, steps, paces, wear and valid days per calendar day of recordings; "
                             "many files on local processes or a Dask cluster"),
    "bench": ("bench", "engine speed on a synthetic week, firmware cost per sample under micropython"),
    "qemu": ("qemu", "build MicroPython for an emulated Cortex-M4F board (QEMU mps2-an386) from a source tree; cached"),
}


class Parser(argparse.ArgumentParser):
    """argparse with walkdose's error form: one line naming the option and the problem, exit status 2 (no usage
    block; --help has it)."""

    def error(self, message):
        if message.startswith("argument "):
            name, _, problem = message[len("argument "):].partition(": ")
            message = f"{name.split('/')[-1]} {problem}"
        self.exit(2, f"{self.prog}: {message}\n")


def build_parser():
    parser = Parser(prog="walkdose", description="Count daily minutes of walking.")
    parser.add_argument("--version", action="version", version=f"walkdose {importlib.metadata.version('walkdose')}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(f".{module_name}", __package__)
        command = sub.add_parser(name, help=help_text, description=help_text)
        module.configure(command)
        command.set_defaults(func=module.run)
    return parser


def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a bad argument already said in one line
        return exc.code
    warnings.formatwarning = _one_line
    if args.command is None:  # a first try without a command gets the list of commands
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.func(args)
    except UserError as exc:
        print(f"walkdose: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("walkdose: interrupted", file=sys.stderr)
        return 130


def _one_line(message, category, filename, lineno, line=None):
    """A warning as one line like the errors (a skipped corrupt block), not Python's two with a source line."""
    return f"walkdose: warning: {message}\n"


if __name__ == "__main__":
    sys.exit(main())
