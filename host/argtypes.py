"""argparse types that check a number's range or an output path as the command line is read, so a bad value is one
line and exit status 2 before any work starts. Nothing else belongs here."""
import argparse
import os


def whole(low, high=None):
    """An argparse type: a whole number from low up to high (inclusive; no upper limit if high is None)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
        if value < low or (high is not None and value > high):
            span = f"{low} or more" if high is None else f"{low} to {high}"
            raise argparse.ArgumentTypeError(f"{value}: give {span}")
        return value
    parse.__name__ = "whole number"  # argparse names the type by it in its messages
    return parse


def output_file(*suffixes):
    """An argparse type: a file path to write, in an existing writable folder, ending in one of suffixes (any if
    none given). Checked before the work whose result it holds, so nothing is computed for nowhere."""
    def parse(text):
        folder = os.path.dirname(os.path.abspath(text))
        if suffixes and not text.lower().endswith(suffixes):
            raise argparse.ArgumentTypeError(f"{text}: give a file name ending in {' or '.join(suffixes)}")
        if not os.path.isdir(folder):
            raise argparse.ArgumentTypeError(f"{text}: no folder {folder}")
        if os.path.isdir(text):
            raise argparse.ArgumentTypeError(f"{text} is a folder: give a file name")
        if not os.access(folder, os.W_OK):
            raise argparse.ArgumentTypeError(f"{text}: no permission to write in {folder}")
        return text
    parse.__name__ = "file path"
    return parse
