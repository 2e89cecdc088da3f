"""Entry point: builds the typer app from the command modules and maps errors to exit codes.

Exit codes: 0 ok, 1 a gate failed, 2 usage, 3 bad data or config, 4 unexpected.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

import saliency
from saliency.errors import SaliencyError

EXIT_OK, EXIT_GATE, EXIT_USAGE, EXIT_DATA, EXIT_UNEXPECTED = 0, 1, 2, 3, 4
_NOT_COMMANDS = {"app", "common", "crash"}


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"saliency {saliency.__version__}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="saliency",
        help="Eye-tracking recordings → saliency ground truth → models → reference-exact metrics.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                     help="Print the version and exit."),
    ) -> None:
        """saliency: ingest → maps → train → evaluate → report."""

    import saliency.cli as pkg

    modules = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name in _NOT_COMMANDS or info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"saliency.cli.{info.name}")
        if hasattr(mod, "register"):
            modules.append(mod)
    for mod in sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__)):
        mod.register(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point; never returns (exits with the mapped code).

    typer's standalone mode already exits 2 on usage errors and honours ``typer.Exit(code)``;
    library errors are mapped here by their ``exit_code``.
    """
    from saliency.cli.common import err_console

    app = build_app()
    try:
        app(args=argv, prog_name="saliency")
    except SystemExit as exc:
        from saliency.cli.common import end_process, quick_exit_allowed

        if argv is None and exc.code in (None, 0) and quick_exit_allowed():
            end_process()           # a program run of a command that allows it: no module teardown
        raise
    except SaliencyError as exc:
        err_console().print(f"error: {exc}", soft_wrap=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # the last line of defence: a bug (see saliency.cli.crash)
        from saliency.cli.crash import report_unexpected

        report_unexpected(exc, list(sys.argv[1:] if argv is None else argv), sys.stderr)
        sys.exit(EXIT_UNEXPECTED)
