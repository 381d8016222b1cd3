"""`cityline`: run the embedded stack, submit an appeal, look at one, measure the pipeline. Each command lives in its
own module with its `add_parser`; this one only registers them."""

import argparse
import sys

from cityline.output import UserError, errors


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="cityline", description="CityLine: routes residents' appeals.")
    commands = root.add_subparsers(dest="command", required=True)

    # Imported here, when the parser is built: a command's module loads only what building its parser needs.
    from cityline import (
        asyncapi,
        bench,
        channels,
        classify,
        departments,
        dlq,
        gazetteer,
        kb,
        notify,
        prometheus,
        replay,
        report,
        route,
        status,
        submit,
        topics,
        up,
        users,
    )

    for command in (
        up,
        submit,
        status,
        bench,
        replay,
        dlq,
        asyncapi,
        channels,
        classify,
        gazetteer,
        route,
        kb,
        report,
        departments,
        notify,
        topics,
        prometheus,
        users,
    ):
        command.add_parser(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as error:
        errors.print(f"[red]error:[/red] {error}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
