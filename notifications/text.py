"""Small text helpers: phone numbers (E.164 with `phonenumbers`), masking for the timeline
(channels/sms.py, voice.py), and SMS segment arithmetic (GSM-7: 160 characters in one segment, 153
per segment when split; UCS-2: 70 and 67 UTF-16 units)."""

import math

import phonenumbers

from ilert.errors import DomainError

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = "^{}\\[~]|€\f"
_GSM_BASIC = frozenset(GSM_BASIC)
_GSM_EXTENDED = frozenset(GSM_EXTENDED)
# Typographic characters that would force a whole SMS into UCS-2 (70 characters a segment).
_PLAIN = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "‚": "'", "–": "-", "—": "-",
                        "…": "...", "\u00a0": " ", "\t": " ", "•": "*", "‐": "-"})


def parse_phone(value, *, field="address"):
    """An E.164 number (+4915112345678) from what a person typed, or DomainError."""
    raw = (value or "").strip()
    if not raw:
        raise DomainError("A phone number is required.", field=field)
    if not raw.startswith("+") and raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise DomainError("Enter the number in international format, e.g. +49 151 12345678.", field=field) from None
    if not phonenumbers.is_valid_number(number):
        raise DomainError("This is not a valid phone number.", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_phone(value):
    """E.164 for a number from a provider webhook, or the input unchanged when it does not parse."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(value, None), phonenumbers.PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        return value


def mask_phone(value):
    """+49…5678: enough to recognise one's own number on the timeline, not enough to call it."""
    try:
        number = phonenumbers.parse(value, None)
        prefix = f"+{number.country_code}"
    except phonenumbers.NumberParseException:
        prefix = value[:3]
    return f"{prefix}…{value[-4:]}"


# --- SMS segments ------------------------------------------------------------------------------------


def plain(text):
    return (text or "").translate(_PLAIN)


def is_gsm(text):
    return all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text)


def sms_segments(text):
    """(encoding, segments) the carrier will bill for `text`."""
    if is_gsm(text):
        septets = sum(2 if c in _GSM_EXTENDED else 1 for c in text)
        return "GSM-7", 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(text.encode("utf-16-le")) // 2
    return "UCS-2", 1 if units <= 70 else math.ceil(units / 67)


def fit_sms(head, middle, tail, *, max_segments=2):
    """head + middle + tail, with `middle` cut (ending in "...") until it fits `max_segments`."""
    head, middle, tail = plain(head), plain(middle), plain(tail)
    text = head + middle + tail
    if sms_segments(text)[1] <= max_segments:
        return text
    low, high = 0, len(middle)
    best = head + tail
    while low <= high:
        mid = (low + high) // 2
        candidate = head + middle[:mid].rstrip() + "..." + tail
        if sms_segments(candidate)[1] <= max_segments:
            best, low = candidate, mid + 1
        else:
            high = mid - 1
    if sms_segments(best)[1] > max_segments:  # the fixed parts alone are too long
        best = best[: 134 * max_segments // 2]
    return best
