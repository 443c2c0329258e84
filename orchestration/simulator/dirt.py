"""How people's details get typed into systems: the dirt a CDP has to see through.

Each function takes the true values of some records and a :class:`Draws` that gives
every record its own reproducible random numbers (hashed from what the record is), and
returns the values as that system would hold them: email case and whitespace, Gmail
dots and ``+tags``, typos, nicknames, phone formats, abbreviations, missing fields,
junk values. Rates are per source and documented where they are set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import reference as ref
from .config import hash_uniform

# Field salts (part of the determinism contract).
F_EMAIL, F_FIRST, F_LAST, F_PHONE, F_STREET, F_CITY, F_POSTCODE, F_BIRTH, F_JUNK, F_MISSING = range(200, 210)


@dataclass(frozen=True)
class Draws:
    """Reproducible uniform draws for a set of records: ``u(field, k)`` is an array with one
    value per record, the same every time for the same record, field and ``k``."""

    seed: int
    keys: tuple[np.ndarray, ...]

    def u(self, field: int, k: int = 0) -> np.ndarray:
        return hash_uniform(self.seed, *self.keys, field, k)


@dataclass(frozen=True)
class EmailDirt:
    missing: float = 0.0
    junk: float = 0.008
    case: float = 0.22
    whitespace: float = 0.04
    gmail_dots: float = 0.15
    plus_tag: float = 0.04
    typo: float = 0.012


def email(values: np.ndarray, draws: Draws, dirt: EmailDirt = EmailDirt()) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    u_missing, u_junk = draws.u(F_MISSING, 1), draws.u(F_JUNK, 1)
    u_case, u_space, u_dots = draws.u(F_EMAIL, 1), draws.u(F_EMAIL, 2), draws.u(F_EMAIL, 3)
    u_tag, u_typo, u_pick = draws.u(F_EMAIL, 4), draws.u(F_EMAIL, 5), draws.u(F_EMAIL, 6)
    for i, value in enumerate(values):
        if value is None or u_missing[i] < dirt.missing:
            out[i] = None
            continue
        if u_junk[i] < dirt.junk:
            out[i] = ref.JUNK_EMAILS[int(u_pick[i] * len(ref.JUNK_EMAILS))]
            continue
        local, _, domain = value.partition("@")
        if domain == "gmail.com" and u_dots[i] < dirt.gmail_dots:
            # Gmail ignores dots: people type them inconsistently.
            local = local.replace(".", "") if "." in local else local[: max(1, len(local) // 2)] + "." + local[max(1, len(local) // 2):]
        if domain in ("gmail.com", "outlook.com", "icloud.com") and u_tag[i] < dirt.plus_tag:
            local = f"{local}+{('shop', 'news', 'coffee', 'orders')[int(u_pick[i] * 4)]}"
        if u_typo[i] < dirt.typo:
            typos = ref.DOMAIN_TYPOS.get(domain)
            if typos and u_pick[i] < 0.7:
                domain = typos[int(u_pick[i] / 0.7 * len(typos)) % len(typos)]
            else:
                local = _typo(local, u_pick[i])
        text = f"{local}@{domain}"
        if u_case[i] < dirt.case * 0.25:
            text = text.upper()
        elif u_case[i] < dirt.case * 0.7:
            text = text[:1].upper() + text[1:]
        elif u_case[i] < dirt.case:
            text = f"{local.title()}@{domain.capitalize()}"
        if u_space[i] < dirt.whitespace:
            text = (" " + text) if u_space[i] < dirt.whitespace / 2 else (text + " ")
        out[i] = text
    return out


def _typo(text: str, u: float) -> str:
    """One keyboard slip: a swapped, dropped, doubled or replaced character."""
    if len(text) < 3:
        return text
    pos = 1 + int(u * 7919) % (len(text) - 2)
    kind = int(u * 104729) % 4
    if kind == 0:
        return text[:pos] + text[pos + 1] + text[pos] + text[pos + 2:]
    if kind == 1:
        return text[:pos] + text[pos + 1:]
    if kind == 2:
        return text[:pos] + text[pos] + text[pos:]
    keyboard = "qwertyuiopasdfghjklzxcvbnm"
    repl = keyboard[(keyboard.find(text[pos].lower()) + 1) % len(keyboard)] if text[pos].isalpha() else text[pos]
    return text[:pos] + (repl.upper() if text[pos].isupper() else repl) + text[pos + 1:]


@dataclass(frozen=True)
class NameDirt:
    missing_first: float = 0.02
    missing_last: float = 0.015
    nickname: float = 0.12
    typo_first: float = 0.03
    typo_last: float = 0.03
    upper: float = 0.03
    lower: float = 0.05


def names(first: np.ndarray, last: np.ndarray, nickname: np.ndarray, draws: Draws,
          dirt: NameDirt = NameDirt()) -> tuple[np.ndarray, np.ndarray]:
    n = len(first)
    out_first = np.empty(n, dtype=object)
    out_last = np.empty(n, dtype=object)
    u_nick, u_tf, u_tl = draws.u(F_FIRST, 1), draws.u(F_FIRST, 2), draws.u(F_LAST, 2)
    u_case, u_mf, u_ml = draws.u(F_FIRST, 3), draws.u(F_MISSING, 2), draws.u(F_MISSING, 3)
    for i in range(n):
        f, l = first[i], last[i]
        if nickname[i] is not None and u_nick[i] < dirt.nickname:
            f = nickname[i]
        if u_tf[i] < dirt.typo_first:
            f = _typo(f, u_tf[i] / dirt.typo_first)
        if u_tl[i] < dirt.typo_last:
            l = _typo(l, u_tl[i] / dirt.typo_last)
        if u_case[i] < dirt.upper:
            f, l = f.upper(), l.upper()
        elif u_case[i] < dirt.upper + dirt.lower:
            f, l = f.lower(), l.lower()
        out_first[i] = None if u_mf[i] < dirt.missing_first else f
        out_last[i] = None if u_ml[i] < dirt.missing_last else l
    return out_first, out_last


def full_name(first: np.ndarray, last: np.ndarray) -> np.ndarray:
    return np.array([" ".join(x for x in (f, l) if x) or None for f, l in zip(first, last)], dtype=object)


@dataclass(frozen=True)
class PhoneDirt:
    present: float = 0.5     # share of records that hold the person's phone at all
    junk: float = 0.007


_US_FORMATS = ("({a}) {b}-{c}", "{a}-{b}-{c}", "+1{a}{b}{c}", "{a}.{b}.{c}", "{a}{b}{c}",
               "1-{a}-{b}-{c}", "+1 {a} {b} {c}", "+1 ({a}) {b}-{c}")


def phone(e164: np.ndarray, draws: Draws, dirt: PhoneDirt = PhoneDirt(), e164_share: float = 0.0) -> np.ndarray:
    """Phone numbers as typed. ``e164_share`` of records keep the clean E.164 form (systems
    that validate input, such as Klaviyo's SMS sign-up)."""
    out = np.empty(len(e164), dtype=object)
    u_present, u_junk, u_fmt = draws.u(F_PHONE, 1), draws.u(F_JUNK, 2), draws.u(F_PHONE, 2)
    for i, value in enumerate(e164):
        if value is None or u_present[i] >= dirt.present:
            out[i] = None
        elif u_junk[i] < dirt.junk:
            out[i] = ref.JUNK_PHONES[int(u_fmt[i] * len(ref.JUNK_PHONES))]
        elif u_fmt[i] < e164_share:
            out[i] = value
        elif value.startswith("+1"):
            a, b, c = value[2:5], value[5:8], value[8:]
            out[i] = _US_FORMATS[int(u_fmt[i] * 7919) % len(_US_FORMATS)].format(a=a, b=b, c=c)
        else:
            # International numbers: with or without the +, spaced or not, or national form.
            style = int(u_fmt[i] * 104729) % 3
            if style == 0:
                out[i] = value
            elif style == 1:
                out[i] = value[:3] + " " + value[3:6] + " " + value[6:]
            else:
                out[i] = "0" + value[3:]
    return out


@dataclass(frozen=True)
class AddressDirt:
    missing: float = 0.1
    abbreviate: float = 0.45
    upper: float = 0.03
    zip_plus4: float = 0.08
    country_name: float = 0.3


_COUNTRY_NAMES = {"US": "United States", "CA": "Canada", "GB": "United Kingdom",
                  "DE": "Germany", "AU": "Australia"}


def address(addr, draws: Draws, dirt: AddressDirt = AddressDirt()) -> dict[str, np.ndarray]:
    """Street line, second line, city, region, postcode, country and country code."""
    cities = ref.cities()
    n = len(addr.city)
    cols = {k: np.empty(n, dtype=object) for k in
            ("street", "line2", "city", "region", "postcode", "country", "country_code")}
    u_miss, u_abbr, u_case = draws.u(F_MISSING, 4), draws.u(F_STREET, 1), draws.u(F_STREET, 2)
    u_zip, u_country, u_typo = draws.u(F_POSTCODE, 1), draws.u(F_CITY, 1), draws.u(F_CITY, 2)
    for i in range(n):
        if u_miss[i] < dirt.missing:
            for col in cols.values():
                col[i] = None
            continue
        full, short = ref.STREET_SUFFIXES[addr.suffix[i]]
        street = f"{addr.street_no[i]} {addr.street[i]} {short if u_abbr[i] < dirt.abbreviate else full}"
        if u_abbr[i] < dirt.abbreviate * 0.3 and short != full:
            street += "."
        unit = addr.unit[i]
        line2 = None
        if unit is not None:
            if u_abbr[i] > 0.5:
                street = f"{street}, {unit}" if u_abbr[i] > 0.75 else f"{street} #{unit[4:]}"
            else:
                line2 = unit
        city = cities.city[addr.city[i]]
        if u_typo[i] < 0.01:
            city = _typo(city, u_typo[i] * 100)
        country = cities.country[addr.city[i]]
        postcode = addr.postcode[i]
        if country == "US" and u_zip[i] < dirt.zip_plus4:
            postcode = f"{postcode}-{int(u_zip[i] * 1e6) % 10000:04d}"
        if u_case[i] < dirt.upper:
            street, city = street.upper(), city.upper()
        cols["street"][i] = street
        cols["line2"][i] = line2
        cols["city"][i] = city
        cols["region"][i] = cities.region[addr.city[i]] or None
        cols["postcode"][i] = postcode
        cols["country_code"][i] = country
        cols["country"][i] = _COUNTRY_NAMES[country] if u_country[i] < dirt.country_name else country
    return cols


def birth_date(days: np.ndarray, draws: Draws, present: float) -> np.ndarray:
    """Birth dates (days since epoch) as recorded: often missing, now and then with day and
    month swapped (US versus European order). Returns int64 day numbers; missing ones are
    ``connectors.base.MISSING_DATE``."""
    import datetime as dt

    out = np.full(len(days), -(10 ** 9), dtype=np.int64)
    u_present, u_swap = draws.u(F_BIRTH, 1), draws.u(F_BIRTH, 2)
    epoch = dt.date(1970, 1, 1)
    for i, d in enumerate(days):
        if u_present[i] >= present:
            continue
        day = epoch + dt.timedelta(days=int(d))
        if u_swap[i] < 0.03 and day.day <= 12 and day.day != day.month:
            day = day.replace(month=day.day, day=day.month)
        out[i] = (day - epoch).days
    return out
