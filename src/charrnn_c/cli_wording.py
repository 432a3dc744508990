"""Messages in the command line's terms: its flags, not the Python parameters.

A library error that names parameters carries them as data
(checks.ParameterMessage): each part is worded here by table lookup, a
parameter as the flag whose dest is its name (read from the command's
parser, so an option added later needs no entry here), a method of the
Python API as the command that does its work. Advice (a clause after the
first) naming a parameter the command has no flag for is left out, and so
are the words for Python users alone (" or None", an aside on Python types).
UserError is a message already in the command line's terms.
"""

from __future__ import annotations

import argparse

from . import checks

# Parameters named by another layer's name for them: vocab.py's max_size is
# CharRNN's max_vocab_size.
PARAMETER_ALIASES = {"max_size": "max_vocab_size"}
# The command for each method of the Python API that advice may name.
COMMANDS = {"fit": "train"}


class UserError(Exception):
    """A mistake in what the user asked for, shown as one line."""


def flag_table(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """{Python parameter name: the option of ``parser`` that sets it}."""
    options = {action.dest: action for action in parser._actions if action.option_strings}
    for alias, dest in PARAMETER_ALIASES.items():
        if dest in options:
            options.setdefault(alias, options[dest])
    return options


def cli_wording(error: BaseException, parser: argparse.ArgumentParser) -> str:
    """``error``'s message with its parameters named as ``parser``'s flags."""
    if not isinstance(error, checks.ParameterMessage):
        return str(error)
    options = flag_table(parser)
    clauses = []
    for index, clause in enumerate(error.clauses):
        words = [in_cli_terms(part, options) for part in clause]
        if index > 0 and any(word is None for word in words):
            continue                              # advice the command cannot follow
        # In the first clause, a parameter without a flag keeps its Python name.
        clauses.append("".join(str(part) if word is None else word
                               for part, word in zip(clause, words)))
    return "; ".join(clauses)


def in_cli_terms(part: checks.Part, options: dict[str, argparse.Action]) -> str | None:
    """``part`` of a message as the command line words it (None: a parameter
    it has no flag for, or a setting no flag can say)."""
    if isinstance(part, str):
        return part
    if isinstance(part, checks.PythonOnly):
        return ""
    if isinstance(part, checks.Call):
        return COMMANDS.get(part.name, part.name)
    action = options.get(part.name)
    if action is None:
        return None
    if isinstance(part, checks.Name):
        return _flag(action)
    setting = _setting(part, action)
    if not isinstance(part, checks.With):
        return setting
    if setting is None and action.nargs == 0 and part.value == action.default:
        return f"without {_flag(action)}"         # a switch not given
    return None if setting is None else f"with {setting}"


def _setting(part: checks.Setting, action: argparse.Action) -> str | None:
    """The option given as ``part`` sets it: "--vocab bytes", "--overwrite"."""
    if action.nargs != 0:
        # A str as the user types it, unquoted; a number as the message shows it.
        value = part.value if isinstance(part.value, str) else part.shown_value()
        return f"{_flag(action)} {value}"
    if isinstance(action, argparse.BooleanOptionalAction):
        return action.option_strings[0 if part.value else 1]    # --keep-best, --no-keep-best
    if part.value == action.const:
        return _flag(action)                      # a switch, given
    return None


def _flag(action: argparse.Action) -> str:
    """The option's long name (--length, not -n)."""
    return next((name for name in action.option_strings if name.startswith("--")),
                action.option_strings[-1])
