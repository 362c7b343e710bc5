"""What PostgreSQL text can hold: no NUL (0x00) character, in text or jsonb (psycopg2 refuses to
send one: "A string literal cannot contain NUL (0x00) characters"). Inbound payloads sometimes
carry one; the intake boundaries drop it with `without_nul` (events: alerts.services.intake; Twilio
webhook parameters: ilert.twilio_signature; delivery ids: ilert.replay)."""


def without_nul(value):
    """`value` with every NUL character removed from its strings (dict keys and lists included)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value
