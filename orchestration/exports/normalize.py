"""Normalising and hashing identifiers for the destinations that match people on them.

One library for every destination client, so that an email hashed for Meta and for Google
is the same string hashed the same way, and a rule a vendor documents lives in one place.

Each ``normalize_*`` returns the value in the form the vendors compare, or raises
``InvalidIdentifier`` with the reason; a client turns that into a failed RowResult for
that row alone, so one bad phone number never fails a batch. ``for_vendor`` applies a
vendor's documented rules (``VENDOR_RULES``) and, where the vendor wants it, hashes.

The rules, as the vendors document them (docs/destinations.md has the sources):

- email: trim, lower-case (all). Google's enhanced conversions also drop the dots of a
  gmail.com / googlemail.com local part; that folding is an option here, off unless a
  sync asks for it, since Customer Match and Meta compare the address as typed.
- phone: E.164 (``+`` country code, national number without trunk prefix) with a default
  country for numbers written nationally; Meta wants the same digits without the ``+``.
- first and last name: lower-case and trimmed; Meta wants letters only (no punctuation,
  no spaces), keeping non-ASCII letters in UTF-8.
- postcode: lower-case, no spaces or dashes; US ZIP codes cut to 5 digits (Meta).
- country: ISO 3166-1 alpha-2, lower-case.
- hash: SHA-256 of the UTF-8 bytes, 64 lower-case hex characters.

The warehouse's identity macros (macros/identity/normalize.sql) normalise for matching
people to each other, with Gmail folding on; this module normalises for matching people
at a vendor, where folding would change the hash the vendor compares.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import phonenumbers

__all__ = [
    "InvalidIdentifier",
    "VENDOR_RULES",
    "for_vendor",
    "is_sha256_hex",
    "normalize_country",
    "normalize_email",
    "normalize_name",
    "normalize_phone",
    "normalize_postcode",
    "phone_digits",
    "sha256_hex",
]


class InvalidIdentifier(ValueError):
    """A value that is empty or invalid once normalised; the row carrying it is rejected alone."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


_EMAIL = re.compile(r"[a-z0-9._%+'-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
# Codes people write that are not ISO 3166-1 alpha-2 (or are, but mean something else).
_COUNTRY_ALIASES = {"uk": "gb", "usa": "us", "united states": "us", "united kingdom": "gb"}


def _text(field: str, value: object) -> str:
    if value is None:
        raise InvalidIdentifier(field, "empty")
    text = unicodedata.normalize("NFC", str(value)).strip()
    if not text:
        raise InvalidIdentifier(field, "empty")
    return text


def sha256_hex(value: str) -> str:
    """SHA-256 of the UTF-8 bytes, as 64 lower-case hex characters."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def is_sha256_hex(value: object) -> bool:
    return isinstance(value, str) and _SHA256_HEX.fullmatch(value) is not None


def normalize_email(value: object, *, fold_gmail_dots: bool = False, strip_plus_tag: bool = False) -> str:
    """Trimmed and lower-cased; optionally Gmail's dot folding and +tag stripping."""
    email = _text("email", value).lower()
    if any(ch.isspace() for ch in email):
        raise InvalidIdentifier("email", "contains whitespace")
    if not _EMAIL.fullmatch(email):
        raise InvalidIdentifier("email", "not an email address")
    local, domain = email.rsplit("@", 1)
    if strip_plus_tag:
        local = local.split("+", 1)[0]
    if fold_gmail_dots and domain in _GMAIL_DOMAINS:
        local = local.replace(".", "")
    if not local:
        raise InvalidIdentifier("email", "empty local part")
    return f"{local}@{domain}"


def normalize_phone(value: object, default_country: str | None = "US") -> str:
    """E.164 (``+14155552671``); numbers without a ``+`` are read as ``default_country``'s."""
    text = _text("phone", value)
    if text.startswith("00"):
        text = "+" + text[2:]
    region = default_country.upper() if default_country else None
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentifier("phone", f"not a phone number ({exc._msg})") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier("phone", "not a valid number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_digits(e164: str) -> str:
    """The E.164 number's digits without the ``+`` (Meta's PHONE key)."""
    return e164.lstrip("+")


def normalize_name(value: object, *, letters_only: bool = False, field: str = "name") -> str:
    """Lower-cased and trimmed; ``letters_only`` drops punctuation, digits and spaces (Meta)."""
    name = _text(field, value).lower()
    if letters_only:
        name = "".join(ch for ch in name if unicodedata.category(ch).startswith("L"))
    else:
        name = " ".join(name.split())
    if not name:
        raise InvalidIdentifier(field, "no letters")
    return name


def normalize_country(value: object) -> str:
    """ISO 3166-1 alpha-2, lower-case (``us``, ``gb``)."""
    text = _text("country", value).lower()
    code = _COUNTRY_ALIASES.get(text, text)
    # phonenumbers carries the list of ISO 3166-1 alpha-2 regions it has numbering plans for.
    if len(code) != 2 or code.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidIdentifier("country", "not an ISO 3166-1 alpha-2 code")
    return code


def normalize_postcode(value: object, country: str | None = None) -> str:
    """Lower-case without spaces or dashes; a US ZIP (or ZIP+4) becomes its 5 digits."""
    text = re.sub(r"[\s-]", "", _text("postcode", value)).lower()
    if country and country.lower() == "us":
        if not re.fullmatch(r"\d{5}(\d{4})?", text):
            raise InvalidIdentifier("postcode", "not a US ZIP code")
        return text[:5]
    if not re.fullmatch(r"[0-9a-z]{2,10}", text):
        raise InvalidIdentifier("postcode", "not a postcode")
    return text


# field -> (normalizer, hashed) per vendor, as each documents it. The normaliser takes the
# raw value and the options (default_country, country of the row, email folding).
def _email(value, opts):
    return normalize_email(value, fold_gmail_dots=opts.get("fold_gmail_dots", False))


def _phone_e164(value, opts):
    return normalize_phone(value, opts.get("default_country", "US"))


def _phone_meta(value, opts):
    return phone_digits(normalize_phone(value, opts.get("default_country", "US")))


def _name_meta(field):
    return lambda value, opts: normalize_name(value, letters_only=True, field=field)


def _name_plain(field):
    return lambda value, opts: normalize_name(value, field=field)


def _postcode(value, opts):
    return normalize_postcode(value, opts.get("country"))


def _country(value, opts):
    return normalize_country(value)


def _as_is(field):
    def normalize(value, opts):
        return _text(field, value)
    return normalize


VENDOR_RULES: dict[str, dict[str, tuple]] = {
    # Meta: every key hashed except MADID and EXTERN_ID (which Meta accepts hashed or not;
    # sent as given so the audience matches what the app reports).
    "meta": {
        "email": (_email, True),
        "phone": (_phone_meta, True),
        "first_name": (_name_meta("first_name"), True),
        "last_name": (_name_meta("last_name"), True),
        "postcode": (_postcode, True),
        "country": (_country, True),
        "external_id": (_as_is("external_id"), False),
        "madid": (lambda value, opts: _text("madid", value).lower(), False),
    },
    # Google Customer Match: email, phone and names hashed; country and postcode sent plain.
    "google_ads": {
        "email": (_email, True),
        "phone": (_phone_e164, True),
        "first_name": (_name_plain("first_name"), True),
        "last_name": (_name_plain("last_name"), True),
        "country": (lambda value, opts: normalize_country(value).upper(), False),
        "postcode": (lambda value, opts: _text("postcode", value), False),
    },
    # Klaviyo, HubSpot, Salesforce store the values: normalised for format, never hashed.
    "klaviyo": {
        "email": (_email, False),
        "phone": (_phone_e164, False),
    },
    "hubspot": {
        "email": (_email, False),
        "phone": (_phone_e164, False),
    },
    "salesforce": {
        "email": (_email, False),
        "phone": (_phone_e164, False),
    },
}


def for_vendor(vendor: str, field: str, value: object, **opts) -> str:
    """``value`` normalised (and hashed where ``vendor`` requires) for ``field``.

    A value that is already a SHA-256 hex digest is passed through for hashed fields, so a
    sync may read identifiers the warehouse hashed itself.
    """
    try:
        normalize, hashed = VENDOR_RULES[vendor][field]
    except KeyError:
        raise KeyError(f"no normalisation rule for {vendor} field {field!r}") from None
    if hashed and is_sha256_hex(value):
        return value  # type: ignore[return-value]
    normalized = normalize(value, opts)
    return sha256_hex(normalized) if hashed else normalized
