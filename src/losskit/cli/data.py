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
    download.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    verify = actions.add_parser("verify", help="check SHA-256 of downloaded files")
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
    from losskit.datasets import DATASETS, cache_dir, sample_dir, verify

    out = console()
    bad = 0
    for name in [args.name] if args.name else list(DATASETS):
        folder = Path(args.data_dir) if args.data_dir else cache_dir() / name
        for file_name, status in verify(name, folder).items():
            colour = "green" if status == "ok" else "red"
            out.print(f"{name:<14} {folder / file_name}: [{colour}]{status}[/]")
            bad += status != "ok"
    out.print(f"bundled sample: {sample_dir()}")
    return 1 if bad else 0


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

        try:
            target = download(
                args.name,
                folder=Path(args.data_dir) if args.data_dir else None,
                mirrors=args.mirror or None,
                timeout=args.timeout,
                progress=report,
            )
        except ConnectionError as exc:
            out.print(f"[bold red]error:[/] {exc}")
            return 2
    out.print(f"{args.name}: all files verified (SHA-256) in {target}")
    return 0
