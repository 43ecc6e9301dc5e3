"""Runs after the journeys (conftest.py puts it last): every page kind the journeys
loaded, plus the main public pages, has no serious or critical axe violation and no horizontal
overflow at 390 px; every link in every mail the stack sent answers 200 on the running site."""

import pytest

pytestmark = pytest.mark.browser

PUBLIC = [
    "/",
    "/open-letter/",
    "/initiatives/2020-quality-initiative/signatures/",
    "/alliance/",
    "/alliance/co-sign/",
    "/courses/",
    "/surveys/",
    "/surveys/findings/",
    "/accounts/login/",
    "/accounts/signup/",
]


def test_every_page_passes_axe_and_fits_390px(visitor, checks):
    person = visitor("public pages")
    for path in PUBLIC:
        person.goto(path)
    problems = checks.axe + checks.overflow
    assert not problems, f"{len(problems)} problems on {len(checks.seen)} pages:\n" + "\n".join(
        problems
    )


def test_every_link_in_every_mail_answers_200(mailbox):
    mails = mailbox.all()
    assert mails, "the journeys received no mail at all"
    problems = mailbox.link_problems()
    assert not problems, "\n".join(problems)
