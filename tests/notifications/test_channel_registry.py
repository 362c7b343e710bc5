"""Channels are one module each (notifications/channels/<name>.py), registered in one place
(notifications/channels/__init__.py): every channel declares the whole interface, and nothing else in
the app keeps its own list of channels (docs/recipes/add-a-notification-channel.md)."""

import ast
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.template.loader import get_template

from ilert.errors import DomainError
from notifications import channels, forms
from notifications.channels.base import Channel
from notifications.models import ContactMethod, Notification

APP = Path(__file__).resolve().parents[2] / "notifications"


@pytest.mark.parametrize("channel", channels.REGISTERED, ids=lambda c: c.name)
def test_every_registered_channel_declares_every_part_of_the_interface(channel):
    for part in Channel.DECLARED:
        assert getattr(type(channel), part) is not getattr(Channel, part), f"{channel.name} does not declare {part}"
    assert channel.name and len(channel.name) <= 8  # the stored columns are CharField(max_length=8)
    assert channel.label and channel.timeline_label and channel.word and channel.service_word
    maximum, minutes = channel.throttle
    assert isinstance(maximum, int) and isinstance(minutes, int) and maximum > 0 and minutes > 0
    assert channel.verification in ("code", "link", "")
    get_template(f"notifications/dev_reply/{channel.name}.html")  # its dev outbox reply controls


@pytest.mark.parametrize("channel", channels.REGISTERED, ids=lambda c: c.name)
def test_every_channel_refuses_an_empty_address(channel):
    with pytest.raises(DomainError):
        channel.clean_address("  ")


def test_names_are_unique_and_everything_else_derives_from_the_registry():
    names = [channel.name for channel in channels.REGISTERED]
    assert len(set(names)) == len(names) == len(channels.CHANNELS)
    assert list(ContactMethod._meta.get_field("kind").choices) == channels.choices()
    assert list(Notification._meta.get_field("channel").choices) == channels.choices()
    offered = [value for value, _label in forms.ContactMethodForm().fields["kind"].choices]
    assert offered == [c.name for c in channels.REGISTERED if not c.self_registered]


def _channel_lists(path, names):
    """Literal tuples, lists, sets and dict keys in a module that name two or more channels."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        items = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", None)
        if not isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)) or not items:
            continue
        named = {item.value for item in items if isinstance(item, ast.Constant) and item.value in names}
        if len(named) >= 2:
            found.append(f"{path.name}:{node.lineno} {sorted(named)}")
    return found


def test_no_module_outside_the_channels_folder_hard_codes_a_list_of_channels():
    names = set(channels.names())
    modules = [p for p in APP.rglob("*.py") if not {"channels", "migrations"} & set(p.relative_to(APP).parts)]
    assert len(modules) > 20
    offenders = [hit for path in modules for hit in _channel_lists(path, names)]
    assert offenders == []


def test_the_check_finds_a_hard_coded_list(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('WORDS = {"sms": "SMS", "voice": "call"}\nBOTH = ("email", "push")\nONE = "sms"\n')
    assert len(_channel_lists(sample, set(channels.names()))) == 2


class _PagerChannel(Channel):
    name = "pager"
    label = "Pager"
    timeline_label = "Pager"
    word = "pager"
    service_word = "pager"
    throttle = (5, 15)


@pytest.mark.django_db
def test_a_new_channel_needs_no_migration(monkeypatch):
    """The model choices are a callable reference to the registry, not a frozen list."""
    monkeypatch.setattr(channels, "REGISTERED", channels.REGISTERED + (_PagerChannel(),))
    assert ("pager", "Pager") in ContactMethod._meta.get_field("kind").choices
    out = StringIO()
    call_command("makemigrations", "notifications", check=True, dry_run=True, stdout=out)
    assert "No changes detected" in out.getvalue()
