"""The ``saliency`` command: a thin typer shell over the library, one module per command.

Each command module in this package defines ``register(app: typer.Typer) -> None`` and, optionally,
``ORDER: int`` (position in ``--help``). Command modules import heavy libraries (torch, scipy) inside
the command functions so that ``saliency --help`` stays fast.
"""
