"""Phone numbers as Close returns them: E.164 plus a formatted form and a country."""

from typing import Any

import phonenumbers


def normalize(raw: str, region: str = "US") -> dict[str, Any]:
    """``{"phone", "phone_formatted", "country"}``; unparseable input is kept as given."""
    try:
        parsed = phonenumbers.parse(raw, None if raw.strip().startswith("+") else region)
    except phonenumbers.NumberParseException:
        return {"phone": raw, "phone_formatted": raw, "country": None}
    if not phonenumbers.is_possible_number(parsed):
        return {"phone": raw, "phone_formatted": raw, "country": None}
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return {
        "phone": e164,
        "phone_formatted": formatted,
        "country": phonenumbers.region_code_for_number(parsed),
    }


def e164(raw: str | None) -> str | None:
    return normalize(raw)["phone"] if raw else raw
