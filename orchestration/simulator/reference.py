"""Reference data the simulator draws from: names, places, products, channels, devices.

Names come with their real frequencies (Faker's en_US tables, from US census data) so
that common names are common, which matters for fuzzy matching and term-frequency
adjustment. Places, products and nicknames are small CSV files beside this module.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from faker.providers.person.en_US import Provider as _Person

DATA = Path(__file__).with_name("data")


def _weights(values) -> np.ndarray:
    w = np.asarray(list(values), dtype=np.float64)
    return w / w.sum()


def _read(name: str) -> list[dict[str, str]]:
    with open(DATA / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@dataclass(frozen=True)
class Names:
    first_male: np.ndarray
    first_male_p: np.ndarray
    first_female: np.ndarray
    first_female_p: np.ndarray
    last: np.ndarray
    last_p: np.ndarray
    nicknames: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Cities:
    city: np.ndarray
    region: np.ndarray
    country: np.ndarray
    postcode_low: np.ndarray
    postcode_high: np.ndarray
    area_codes: list[tuple[str, ...]]
    p: np.ndarray


@dataclass(frozen=True)
class Products:
    key: np.ndarray
    title: np.ndarray
    category: np.ndarray
    price: np.ndarray
    variants: list[tuple[str, ...]]
    p: np.ndarray
    categories: np.ndarray


@functools.lru_cache(maxsize=1)
def names() -> Names:
    nick: dict[str, list[str]] = {}
    for row in _read("nicknames.csv"):
        nick.setdefault(row["name"], []).append(row["nickname"])
    return Names(
        first_male=np.array(list(_Person.first_names_male), dtype=object),
        first_male_p=_weights(_Person.first_names_male.values()),
        first_female=np.array(list(_Person.first_names_female), dtype=object),
        first_female_p=_weights(_Person.first_names_female.values()),
        last=np.array(list(_Person.last_names), dtype=object),
        last_p=_weights(_Person.last_names.values()),
        nicknames={k: tuple(v) for k, v in nick.items()},
    )


@functools.lru_cache(maxsize=1)
def cities() -> Cities:
    rows = _read("cities.csv")
    return Cities(
        city=np.array([r["city"] for r in rows], dtype=object),
        region=np.array([r["region"] for r in rows], dtype=object),
        country=np.array([r["country_code"] for r in rows], dtype=object),
        postcode_low=np.array([r["postcode_low"] for r in rows], dtype=object),
        postcode_high=np.array([r["postcode_high"] for r in rows], dtype=object),
        area_codes=[tuple(r["area_codes"].split("|")) for r in rows],
        p=_weights(float(r["weight"]) for r in rows),
    )


@functools.lru_cache(maxsize=1)
def products() -> Products:
    rows = _read("products.csv")
    category = np.array([r["category"] for r in rows], dtype=object)
    return Products(
        key=np.array([int(r["product_key"]) for r in rows]),
        title=np.array([r["title"] for r in rows], dtype=object),
        category=category,
        price=np.array([float(r["price"]) for r in rows]),
        variants=[tuple(r["variants"].split("|")) for r in rows],
        p=_weights(float(r["weight"]) for r in rows),
        categories=np.array(sorted(set(category)), dtype=object),
    )


STREET_NAMES = np.array(
    ["Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park",
     "Walnut", "Sunset", "Highland", "Church", "Spring", "River", "Mill", "Forest", "Meadow",
     "Ridge", "Jefferson", "Lincoln", "Madison", "Franklin", "Chestnut", "Willow", "Birch",
     "Valley", "Center", "Union", "Broad", "Market", "Water", "Prospect", "Grove", "Summit",
     "Cherry", "Front", "Jackson", "Adams", "Laurel", "Hickory", "Dogwood", "Magnolia"],
    dtype=object,
)
# Full suffix and the abbreviation that people also type.
STREET_SUFFIXES = [("Street", "St"), ("Avenue", "Ave"), ("Road", "Rd"), ("Drive", "Dr"),
                   ("Lane", "Ln"), ("Court", "Ct"), ("Boulevard", "Blvd"), ("Place", "Pl"),
                   ("Way", "Way"), ("Terrace", "Ter")]

PERSONAL_DOMAINS = np.array(["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com",
                             "aol.com", "comcast.net", "protonmail.com", "me.com", "live.com"],
                            dtype=object)
PERSONAL_DOMAINS_P = _weights([42, 12, 8, 9, 10, 3, 3, 2, 2, 2])
DOMAIN_TYPOS = {"gmail.com": ["gmial.com", "gmail.con", "gmai.com"],
                "yahoo.com": ["yaho.com", "yahoo.co"],
                "hotmail.com": ["hotmial.com", "hotmail.co"],
                "outlook.com": ["outlok.com"], "icloud.com": ["icloud.co", "iclod.com"]}
COMPANY_WORDS = np.array(["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark",
                          "Wayne", "Wonka", "Soylent", "Tyrell", "Cyberdyne", "Gringotts",
                          "Oscorp", "Aperture", "Massive", "Pied Piper", "Dunder", "Sterling",
                          "Prestige", "Bluth", "Monarch", "Nakatomi", "Duff", "Krusty"],
                         dtype=object)
COMPANY_SUFFIXES = np.array(["Inc", "LLC", "Group", "Partners", "Co", "Labs", "Holdings",
                             "Consulting", "Studios", "Logistics"], dtype=object)
INDUSTRIES = np.array(["Technology", "Finance", "Healthcare", "Education", "Hospitality",
                       "Manufacturing", "Retail", "Media", "Legal", "Real Estate"], dtype=object)

# Junk values real customer data carries. Each replaces a real value on a few records.
JUNK_EMAILS = np.array(["test@test.com", "none", "n/a", "noemail@noemail.com", "x@x.com",
                        "na@na.com", "no@email.com", "asdf@asdf.com"], dtype=object)
JUNK_PHONES = np.array(["0000000000", "1234567890", "+1", "5555555555", "n/a", "000-000-0000",
                        "9999999999"], dtype=object)

# Marketing channels of a session: (utm source, utm medium, referrer host) and weight.
CHANNELS = [
    ("direct", None, None, None, 30),
    ("organic_search", None, None, "https://www.google.com/", 20),
    ("paid_search", "google", "cpc", "https://www.google.com/", 12),
    ("email", "klaviyo", "email", None, 12),
    ("paid_social", "facebook", "paid_social", "https://l.facebook.com/", 7),
    ("organic_social", "instagram", "social", "https://l.instagram.com/", 6),
    ("referral", None, None, "https://www.seriouseats.com/", 5),
    ("affiliate", "coffeeblog", "affiliate", "https://www.coffeereview.com/", 3),
    ("paid_search_bing", "bing", "cpc", "https://www.bing.com/", 2),
    ("sms", "klaviyo", "sms", None, 3),
]
CHANNEL_NAMES = np.array([c[0] for c in CHANNELS], dtype=object)
CHANNEL_SOURCE = np.array([c[1] for c in CHANNELS], dtype=object)
CHANNEL_MEDIUM = np.array([c[2] for c in CHANNELS], dtype=object)
CHANNEL_REFERRER = np.array([c[3] for c in CHANNELS], dtype=object)
CHANNEL_P = _weights(c[4] for c in CHANNELS)
EMAIL_CHANNEL = 3

USER_AGENTS = {
    "desktop_web": np.array([
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    ], dtype=object),
    "mobile_web": np.array([
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    ], dtype=object),
}
IOS_SCREENS = {"home": "Home", "collection": "Collection", "subscription": "Coffee Club",
               "blog": "Brew Guide", "content": "About", "cart": "Cart", "account": "Account"}
IOS_MODELS = np.array(["iPhone15,2", "iPhone15,3", "iPhone16,1", "iPhone16,2", "iPhone14,5",
                       "iPhone17,1"], dtype=object)
IOS_VERSIONS = np.array(["17.6.1", "18.0", "18.1", "18.1.1"], dtype=object)
CARRIERS = np.array(["Verizon", "AT&T", "T-Mobile", "US Cellular"], dtype=object)

_EASTERN = {"NY", "PA", "FL", "NC", "IN", "DC", "MA", "MI", "MD", "GA", "OH", "VA", "VT", "ON", "QC"}
_CENTRAL = {"IL", "TX", "TN", "WI", "MO", "NE", "MN", "OK", "LA"}
_MOUNTAIN = {"AZ", "CO", "NM", "UT", "ID"}


def timezone_of_city(index: int) -> str:
    c = cities()
    country, region = c.country[index], c.region[index]
    if country == "GB":
        return "Europe/London"
    if country == "DE":
        return "Europe/Berlin"
    if country == "AU":
        return "Australia/Sydney" if region == "NSW" else "Australia/Melbourne"
    if region in _EASTERN:
        return "America/Toronto" if country == "CA" else "America/New_York"
    if region in _CENTRAL:
        return "America/Chicago"
    if region in _MOUNTAIN:
        return "America/Phoenix" if region == "AZ" else "America/Denver"
    return "America/Vancouver" if country == "CA" else "America/Los_Angeles"


SITE = "https://www.northwindroasters.com"
# Pages of the site (path, title, category) besides product pages.
CONTENT_PAGES = [  # (path, title, category); index 8 is the cart, 9 the account page
    ("/", "Northwind Roasters | Specialty Coffee", "home"),
    ("/collections/coffee", "Coffee | Northwind Roasters", "collection"),
    ("/collections/equipment", "Equipment | Northwind Roasters", "collection"),
    ("/collections/gifts", "Gifts | Northwind Roasters", "collection"),
    ("/pages/coffee-club", "The Coffee Club | Northwind Roasters", "subscription"),
    ("/blogs/brew-guides", "Brew Guides | Northwind Roasters", "blog"),
    ("/blogs/brew-guides/pour-over", "How to Brew Pour-Over | Northwind Roasters", "blog"),
    ("/pages/about", "Our Story | Northwind Roasters", "content"),
    ("/cart", "Your Cart | Northwind Roasters", "cart"),
    ("/account", "Your Account | Northwind Roasters", "account"),
]

EMAIL_CAMPAIGN_THEMES = [
    "New Single Origin: {}", "Brew Better: {}", "This Week at the Roastery", "Staff Picks for {}",
    "Subscriber Exclusive: {}", "Back in Stock: {}", "The {} Edit", "Last Chance: {}",
]
EMAIL_THEME_WORDS = ["Ethiopia Guji", "Cold Brew Season", "Espresso at Home", "Holiday Gifting",
                     "Kenya AA", "Pour-Over Basics", "Decaf Done Right", "Colombia Huila",
                     "Summer Iced Coffee", "Gear Upgrades", "Tea Time", "Roaster's Reserve"]

TICKET_REASONS = [
    ("Where is my order?", "shipping", 30),
    ("My package arrived damaged", "damaged", 10),
    ("Change my subscription", "subscription", 18),
    ("Refund request", "refund", 12),
    ("Question about grind size", "product_question", 12),
    ("Espresso machine not heating", "warranty", 6),
    ("Update my shipping address", "account", 7),
    ("Cancel my subscription", "cancellation", 5),
]
TICKET_SUBJECTS = np.array([r[0] for r in TICKET_REASONS], dtype=object)
TICKET_TYPES = np.array([r[1] for r in TICKET_REASONS], dtype=object)
TICKET_P = _weights(r[2] for r in TICKET_REASONS)

SUBSCRIPTION_PLANS = [
    # nickname, monthly amount in cents, weight
    ("Coffee Club Monthly", 2900, 55),
    ("Coffee Club Plus", 4900, 25),
    ("Espresso Lovers", 3900, 15),
    ("Decaf Club", 2600, 5),
]
