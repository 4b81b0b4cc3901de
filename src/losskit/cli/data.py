"""`losskit data download|verify|path`: the data sets, fetched only when asked."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from losskit.cli._common import Subparsers, console

NAMES = ["mnist", "fashion-mnist"]


def register(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "data",
        help="download, verify and locate data sets",
        description="MNIST and Fashion-MNIST are only downloaded "
        "when you ask; the cache folder is $LOSSKIT_DATA or the user "
        "cache folder.",
    )
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    download = actions.add_parser("download", help="download and verify a data set")
    download.add_argument("name", choices=NAMES)
    download.add_argument("--data-dir", type=Path, help="download here instead of the cache")
    download.add_argument(
        "--mirror",
        action="append",
        help="base URL to fetch from (repeatable; default: public mirrors)",
    )
    download.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds each file may take, from connecting to the last byte (default 300)",
    )
    download.add_argument(
        "--force", action="store_true", help="download every file again, even if it verifies"
    )
    verify = actions.add_parser(
        "verify",
        help="check SHA-256 of downloaded files",
        description="Check each data set against its own SHA-256 checksums. With --data-dir "
        "and no NAME, the data set the folder holds is recognised by its checksums.",
    )
    verify.add_argument("name", nargs="?", choices=NAMES)
    verify.add_argument("--data-dir", type=Path, help="check this folder instead of the cache")
    actions.add_parser("path", help="print the cache folder")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from losskit.datasets import cache_dir

    if args.data_command == "path":
        console().print(str(cache_dir()))
        return 0
    if args.data_command == "verify":
        return _verify(args)
    return _download(args)


def _verify(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from losskit.datasets import sample_dir, verify

    out = console()
    bad = 0
    for name, folder in _what_to_verify(args):
        status = verify(name, folder)
        if not args.name and not args.data_dir and set(status.values()) == {"missing"}:
            out.print(f"{name:<14} {escape(str(folder))}: not downloaded", soft_wrap=True)
            continue
        for file_name, state in status.items():
            colour = "green" if state == "ok" else "red"
            where = escape(str(folder / file_name))
            out.print(f"{name:<14} {where}: [{colour}]{escape(state)}[/]", soft_wrap=True)
            bad += state != "ok"
    if not args.data_dir:
        out.print(f"bundled sample: {escape(str(sample_dir()))}", soft_wrap=True)
    if bad:
        raise ValueError(f"{bad} file(s) failed verification (listed above)")
    return 0


def _what_to_verify(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """(data set, folder) pairs, each to be checked against that data set's own hashes."""
    from losskit.datasets import DATASETS, cache_dir, identify

    if not args.data_dir:
        return [(name, cache_dir() / name) for name in ([args.name] if args.name else DATASETS)]
    folder = Path(args.data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"--data-dir {folder}: no such folder")
    name = args.name or identify(folder)
    if name is None:
        raise ValueError(
            f"--data-dir {folder}: no file of a known data set ({', '.join(NAMES)}) found "
            "there by checksum: name the data set to see each file's status, e.g. "
            f"`losskit data verify mnist --data-dir {folder}`"
        )
    how = "as named" if args.name else "recognised by its checksums"
    text = f"{folder}: checked as {name} ({how}), against {name}'s own SHA-256 sums"
    console().print(text, markup=False, soft_wrap=True)
    return [(name, folder)]


def _download(args: argparse.Namespace) -> int:
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    from losskit.datasets import download

    out = console()
    with Progress(
        *Progress.get_default_columns(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=out,
        disable=not out.is_terminal,
    ) as progress:
        tasks: dict[str, Any] = {}

        def report(file_name: str, done: int, total: int | None) -> None:
            if file_name not in tasks:
                tasks[file_name] = progress.add_task(file_name, total=total)
            progress.update(tasks[file_name], completed=done)

        # A mirror that fails is an error for the CLI's one boundary (one line, exit 1).
        target = download(
            args.name,
            folder=Path(args.data_dir) if args.data_dir else None,
            mirrors=args.mirror or None,
            timeout=args.timeout,
            force=args.force,
            progress=report,
        )
    out.print(f"{args.name}: all files verified (SHA-256) in {target}")
    return 0
