"""MkDocs hook: the reference pages' generated parts, from the code itself, so that they cannot
fall behind it. A page asks for one with a line ``<!-- generated: NAME -->``:

- ``cli``: every command and option of ``attrkit``, from :func:`attrkit.cli.build_parser`;
- ``report-parameters``: every parameter of each bundled report template, from its cell
  tagged ``parameters``;
- ``exit-codes``: the alarms of ``attrkit compare --fail-on`` and their exit codes.
"""

from __future__ import annotations

import argparse
import re


def _escape(text: str) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def cli_reference() -> str:
    from attrkit.cli import build_parser

    parser = build_parser()
    out = []

    def options(p: argparse.ArgumentParser) -> list[str]:
        rows = ["| option | what it does |", "|---|---|"]
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
                continue
            names = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.dest}`"
            if action.choices and not isinstance(action.choices, dict):
                names += " {" + ", ".join(map(str, action.choices)) + "}"
            rows.append(f"| {names} | {_escape(action.help or '')} |")
        return rows

    out += ["## attrkit", "", _escape(parser.description or ""), "", *options(parser), ""]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in sub._choices_actions}
    for name, p in sub.choices.items():
        out += [f"## attrkit {name}", "", _escape(helps.get(name) or ""), ""]
        if p.description:
            out += [_escape(p.description), ""]
        inner = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if inner:
            for child, cp in inner[0].choices.items():
                out += [f"### attrkit {name} {child}", "", _escape(cp.description or ""), "",
                        *options(cp), ""]
        else:
            out += [*options(p), ""]
    return "\n".join(out)


def report_parameters() -> str:
    from attrkit.reports.run import parameters, templates_dir

    out = []
    for template in sorted(templates_dir().glob("*.ipynb")):
        out += [f"## {template.stem}", "", "| parameter | type | default | what it is |",
                "|---|---|---|---|"]
        for p in parameters(template).values():
            out.append(f"| `{p.name}` | {p.type} | `{p.default!r}` | {_escape(p.help)} |")
        out.append("")
    return "\n".join(out)


def exit_codes() -> str:
    from attrkit import defaults as D

    rows = ["| exit code | alarm (`--fail-on`) | when |", "|---|---|---|"]
    rows += [f"| {code} | `{name}` | {_escape(what)} |" for name, (code, what)
             in sorted(D.ALARMS.items(), key=lambda kv: kv[1][0])]
    return "\n".join(rows)


GENERATED = {"cli": cli_reference, "report-parameters": report_parameters,
             "exit-codes": exit_codes}


def on_page_markdown(markdown: str, **kwargs) -> str:
    return re.sub(r"<!-- generated: ([\w-]+) -->", lambda m: GENERATED[m.group(1)](), markdown)
