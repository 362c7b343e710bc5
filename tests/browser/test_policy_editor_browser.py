"""The escalation policy editor on a phone: every label ticks its own form's box (unique ids), moving
and removing levels, removing asks first, and a level that names nobody is saved only after a
confirmation that says what will happen."""

import pytest

from escalation.models import EscalationPolicy
from tests.escalation.factories import make_policy
from tests.factories import UserFactory

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_policy_editor_on_a_phone(page, admin, tenant):
    ana, blair = UserFactory(tenant=tenant, name="Ana"), UserFactory(tenant=tenant, name="Blair")
    policy = make_policy(tenant, [{"users": [ana], "timeout_minutes": 5}, {"users": [blair], "timeout_minutes": 10}],
                         name="Web on-call")
    make_policy(tenant, [{"users": [blair], "timeout_minutes": 5}], name="Other policy")
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, admin.email, "correct horse battery")
    page.goto(f"/escalation-policies/{policy.pk}/")

    # Every id once, every label's control in the label's own form.
    report = page.evaluate("""() => {
        const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
        const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
        const strays = [...document.querySelectorAll('label[for]')].filter(l => {
            const c = document.getElementById(l.htmlFor);
            return !c || c.form !== l.closest('form');
        }).map(l => l.htmlFor);
        return {dupes, strays};
    }""")
    assert report == {"dupes": [], "strays": []}, report

    # Clicking a name in "Add a level" ticks that form's box, not level 1's.
    page.locator("#new-level label:has-text('Blair')").click()
    assert page.locator("#new-level label:has-text('Blair') input").is_checked()
    level_one = page.locator(".level[data-level='1']")
    assert not level_one.locator("label:has-text('Blair') input").is_checked()
    assert level_one.locator("label:has-text('Ana') input").is_checked()

    # Reorder with the thumb-sized buttons.
    page.click("button[aria-label='Move level 2 up']")
    page.wait_for_selector(".level[data-level='1'] >> text=Blair")
    first = policy.levels.get(position=1)
    assert list(first.users.values_list("name", flat=True)) == ["Blair"]

    # Removing asks first; saying no keeps the level.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator(".level[data-level='2'] button[name=delete]").click()
    assert policy.levels.count() == 2

    # A level that names nobody: the page says what will happen and saves nothing yet; what was typed stays.
    level = page.locator(".level[data-level='2']")
    level.locator("input[name=timeout_minutes]").fill("7")
    level.locator("label:has-text('Ana') input").uncheck()
    level.locator("button:has-text('Save level')").click()
    warning = page.locator(".level[data-level='2'] .confirm-nobody")
    warning.wait_for()
    assert "Level 2 names nobody" in warning.inner_text() and "escalation ends there" in warning.inner_text()
    assert page.locator(".level[data-level='2'] input[name=timeout_minutes]").input_value() == "7"
    second = policy.levels.get(position=2)
    assert second.users.count() == 1 and second.timeout_minutes == 5
    page.click("text=Save it anyway: it pages nobody")
    page.wait_for_selector("text=Level 2 saved.")
    second.refresh_from_db()
    assert second.users.count() == 0 and second.timeout_minutes == 7

    # Removing, confirmed.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(".level[data-level='2'] button[name=delete]").click()
    page.wait_for_selector("text=Level 2 removed.")
    assert policy.levels.count() == 1
    assert EscalationPolicy.objects.get(name="Other policy").levels.get().users.get() == blair
