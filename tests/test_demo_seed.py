from django.core.management import call_command

from accounts.models import User
from alerts.models import AlertSource


def test_the_demo_organisation_is_seeded_once_with_a_working_login(db, tmp_path, capsys):
    password_file = tmp_path / "pw"
    call_command("seed_demo", password_file=str(password_file))
    call_command("seed_demo", password_file=str(password_file))  # a restart: same login, no duplicates
    out = capsys.readouterr().out
    password = password_file.read_text()
    assert out.count(f"demo@example.com / {password}") == 2
    assert User.objects.get(email="demo@example.com").check_password(password)
    source = AlertSource.objects.get(name="Demo monitoring")
    assert source.escalation_policy.levels.get().users.get().email == "demo@example.com"
