"""One command layer (cartrecovery.web.commands) behind three front doors: the command line,
manage.py cartrecovery and flask cartrecovery offer the same commands with the same flags."""
from __future__ import annotations

import argparse

import pytest

from cartrecovery.web import commands

# What only the command line has: it has no settings, so it names the store and what builds
# the engine (the adapters read these from CARTRECOVERY).
CLI_ONLY = {"--store", "--shop-name", "--smtp", "--smtp-security", "--smtp-user",
            "--smtp-connections", "--sender",
            "--flow", "--base-url",
            "--config", "--set"}  # the layered service settings (service.py): the adapters have the shop's


def _argparse_commands(parser: argparse.ArgumentParser) -> dict[str, set[str]]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: {flag for action in p._actions for flag in action.option_strings} - {"-h", "--help"}
            for name, p in sub.choices.items()}


def _expected() -> dict[str, set[str]]:
    return {c.name: {o.flag for o in c.options} for c in commands.COMMANDS}


def test_the_command_line_has_every_shared_command_with_its_flags():
    from cartrecovery import cli

    got = _argparse_commands(cli.build_parser())
    assert set(got) == set(_expected()) | {"simulate"}
    for name, flags in _expected().items():
        assert got[name] - CLI_ONLY == flags, name


def test_django_has_the_same_commands_and_flags():
    pytest.importorskip("django")
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")
    import django

    django.setup()
    from cartrecovery.django.management.commands.cartrecovery import Command

    got = _argparse_commands(Command().create_parser("manage.py", "cartrecovery"))
    for name, flags in _expected().items():
        assert got[name] == flags, name
        if "-" in name:
            assert got[name.replace("-", "_")] == flags  # the snake_case alias


def test_flask_has_the_same_commands_and_flags():
    pytest.importorskip("flask")
    from cartrecovery.flask import cli

    got = {name: {flag for p in c.params for flag in p.opts} for name, c in cli.commands.items()}
    assert got == _expected()
