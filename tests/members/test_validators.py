import pytest
from django.core.exceptions import ValidationError

from cqa_portal.core.validators import uscc_check_ok, uscc_format_ok, validate_uscc_format


def test_known_valid_code():
    assert uscc_check_ok("91110000600037341L")


def test_pilot_code_has_valid_format_but_fails_check():
    assert uscc_format_ok("91350100M0001TGQXM")
    assert not uscc_check_ok("91350100M0001TGQXM")
    validate_uscc_format("91350100M0001TGQXM")  # accepted: flagged for review, not refused


@pytest.mark.parametrize(
    "code, message",
    [
        ("9111000060003734", "18 位"),
        ("91110000600037341LX", "18 位"),
        ("91110000600O37341L", "不是有效的统一社会信用代码"),  # O is not in the alphabet
        ("9111AB00600037341L", "不是有效的统一社会信用代码"),  # division code must be digits
    ],
)
def test_bad_formats_are_refused_with_a_chinese_message(code, message):
    with pytest.raises(ValidationError) as info:
        validate_uscc_format(code)
    assert message in " ".join(info.value.messages)


def test_lowercase_and_spaces_are_normalised():
    validate_uscc_format(" 91110000600037341l ")
