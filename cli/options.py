"""Turn a pydantic config model into Typer options: one option per (nested) field.

``encoder.batch_size`` becomes ``--encoder-batch-size`` (a field may add shorter names
with ``json_schema_extra={"cli_aliases": ["--synonym-queries"]}``); booleans are
``--kb-lenient/--no-kb-lenient``; ``Literal`` fields are choices; lists take comma-separated
values (``--kb-languages ENG,SPA``); dicts take ``key=value`` pairs
(``--corpus-split-files train=trng.txt,dev=dev.txt``); both also take YAML flow syntax
(``[ENG, SPA]``, ``{train: trng.txt}``), the way the config file writes them. Every
option defaults to "not given", so the YAML file (``--config``) supplies the rest and
pydantic validates the merged result. A default is shown once, at the end of its help
text, unless the description already says it.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import typer
from pydantic import BaseModel
from rich.markup import escape

from xenc_toolkit.config import registry
from xenc_toolkit.errors import ConfigError


@dataclass
class OptionSpec:
    dotted: str  # "encoder.batch_size"
    param: str  # python identifier "encoder__batch_size"
    flag: str  # "--encoder-batch-size"
    annotation: Any
    help: str
    panel: str
    kind: str  # scalar | bool | list | dict
    aliases: tuple[str, ...] = ()  # more flags for the same option ("--synonym-queries")


def _unwrap_optional(annotation):
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _is_model(annotation) -> bool:
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)


def _describe_default(value) -> str:
    if isinstance(value, BaseModel) or value is None:
        return ""
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "(none)"
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "(none)"
    return str(value)


def extra_of(field) -> dict:
    return field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}


def flatten(model: type[BaseModel], prefix: str = "", panel: str = "Options") -> list[OptionSpec]:
    specs: list[OptionSpec] = []
    for name, field in model.model_fields.items():
        if name == "quiet":
            continue  # a global option
        annotation = _unwrap_optional(field.annotation)
        dotted = f"{prefix}{name}"
        if _is_model(annotation):
            title = dotted.replace("_", " ").replace(".", " / ")
            specs.extend(flatten(annotation, prefix=f"{dotted}.", panel=title.capitalize()))
            continue
        origin = get_origin(annotation)
        kind = "scalar"
        if annotation is bool:
            kind = "bool"
        elif origin in (list, tuple):
            kind = "list"
        elif origin is dict:
            kind = "dict"
        description = field.description or ""
        if origin is Literal:
            description += f" [{'|'.join(str(a) for a in get_args(annotation))}]"
        elif kind == "list" and get_origin(get_args(annotation)[0]) is Literal:
            description += f" [comma-separated from: {'|'.join(get_args(get_args(annotation)[0]))}]"
        elif (kinds := registry(field)) is not None:  # a registered kind: the choices are the registry's
            names = [*extra_of(field).get("also", []), *kinds.names()]
            description += f" [{'comma-separated from: ' if kind == 'list' else ''}{'|'.join(names)}]"
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        aliases = tuple(extra.get("cli_aliases") or ())
        if kind == "dict":
            description += " [key=value,...]"
        default = _describe_default(field.default)
        if default and "default" not in description.lower():
            description += f" (default: {default})"
        specs.append(
            OptionSpec(
                dotted=dotted,
                param=dotted.replace(".", "__"),
                flag="--" + dotted.replace(".", "-").replace("_", "-"),
                annotation=annotation,
                help=description.strip(),
                panel=panel,
                kind=kind,
                aliases=aliases,
            )
        )
    return specs


def _typer_type(spec: OptionSpec):
    annotation = spec.annotation
    if spec.kind == "bool":
        return bool
    if spec.kind in ("list", "dict"):
        return str
    if get_origin(annotation) is Literal:
        return annotation
    if annotation in (int, float, str, Path):
        return annotation
    return str


def _flow(text: str, kind: type, flag: str, example: str):
    """``[a, b]`` / ``{k: v}``: the YAML flow syntax a config file uses, given on the command line."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = None
    if not isinstance(value, kind):
        raise ConfigError(f"option {flag}: {text!r} is not valid (e.g. {flag} {example})")
    return value


def _parse_list(text: str, flag: str = "") -> list[str]:
    if text.strip().startswith("["):
        return [str(v) for v in _flow(text, list, flag, "A,B")]
    return [part.strip() for part in text.split(",") if part.strip()]


def _parse_dict(text: str, flag: str) -> dict[str, str]:
    if text.strip().startswith("{"):
        return {str(k): str(v) for k, v in _flow(text, dict, flag, "train=a.txt,dev=b.txt").items()}
    out = {}
    for part in _parse_list(text):
        if "=" not in part:
            raise ConfigError(f"option {flag}: {part!r} is not key=value (e.g. {flag} train=a.txt,dev=b.txt)")
        key, value = part.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def build_signature(specs: list[OptionSpec]) -> inspect.Signature:
    params = [
        inspect.Parameter(
            "config",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(
                None,
                "--config",
                "-c",
                help="YAML file with this command's fields (CLI options override it)",
                exists=False,
                dir_okay=False,
                rich_help_panel="Config",
            ),
            annotation=Path | None,
        ),
        inspect.Parameter(
            "quiet",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(
                False, "--quiet", "-q", help="errors and the final summary only", rich_help_panel="Config"
            ),
            annotation=bool,
        ),
        inspect.Parameter(
            "verbose",
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(
                False,
                "--verbose",
                "-v",
                help="also details and the messages of the libraries underneath (transformers, "
                "sentence-transformers, datasets), which are silenced by default",
                rich_help_panel="Config",
            ),
            annotation=bool,
        ),
    ]
    for spec in specs:
        if spec.kind == "bool":
            names = [f"--{flag[2:]}/--no-{flag[2:]}" for flag in (*spec.aliases, spec.flag)]
        else:
            names = [*spec.aliases, spec.flag]
        # help is shown through rich markup: escape it, so '[a|b|c]' choices and user paths print as written
        option = typer.Option(None, *names, help=escape(spec.help), rich_help_panel=spec.panel, show_default=False)
        params.append(
            inspect.Parameter(
                spec.param, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=_typer_type(spec) | None
            )
        )
    return inspect.Signature(params)


def overrides_from_kwargs(specs: list[OptionSpec], kwargs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in specs:
        value = kwargs.get(spec.param)
        if value is None:
            continue
        if spec.kind == "list":
            value = _parse_list(value, spec.flag)
        elif spec.kind == "dict":
            value = _parse_dict(value, spec.flag)
        elif isinstance(value, Path):
            value = str(value)
        out[spec.dotted] = value
    return out


def _print_error(console, message: str) -> None:
    """``error: <message>`` on one line; the message is plain text (paths with ``[`` ``]`` print verbatim)."""
    from rich.text import Text

    console.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True)


def config_command(model: type[BaseModel], run: Callable[[Any], None]) -> Callable[..., None]:
    """A function whose signature Typer reads as ``--config``, ``--quiet``, ``--verbose`` and one option per field."""
    from xenc_toolkit.config import load_config
    from xenc_toolkit.errors import XencError
    from xenc_toolkit.utils.progress import console, set_quiet, set_verbose

    specs = flatten(model)

    def command(**kwargs):
        quiet = kwargs.pop("quiet", False)
        verbose = kwargs.pop("verbose", False)
        config_file = kwargs.pop("config", None)
        try:
            if quiet and verbose:
                raise ConfigError("--quiet and --verbose: give one of them")
            set_verbose(verbose)
            set_quiet(quiet)
            overrides = overrides_from_kwargs(specs, kwargs)
            if quiet:
                overrides["quiet"] = True
            cfg = load_config(model, config_file, overrides)
            set_quiet(cfg.quiet)
            run(cfg)
        except XencError as exc:
            message = str(exc)
            for spec in specs:  # a value given as an option: name the option too
                if f"field '{spec.dotted}'" in message and kwargs.get(spec.param) is not None:
                    message += f" (option {spec.flag})"
                    break
            _print_error(console, message)
            raise typer.Exit(2) from None
        except OSError as exc:  # a user path the system refused (permissions, a directory for a file, disk full)
            if exc.filename is None:
                raise
            _print_error(console, f"{exc.filename}: {exc.strerror or exc}")
            raise typer.Exit(2) from None
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (cli.main turns it into KeyboardInterrupt("SIGTERM"))
            by = str(exc) or "SIGINT"
            _print_error(console, f"interrupted ({by}); outputs being written were discarded, worker processes stopped")
            raise typer.Exit(143 if by == "SIGTERM" else 130) from None

    command.__signature__ = build_signature(specs)
    command.__doc__ = model.__doc__
    return command
