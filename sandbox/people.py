"""Simulated customers: names, mobiles and ID numbers from Faker's zh_CN data.

Faker's own per-call API is too slow for 100k records, so this draws from
Faker's zh_CN tables (surnames with weights, given names, mobile prefixes,
administrative area codes) with the generator's own seeded `random.Random`,
and computes a valid GB 11643 check digit. Elderly customers get a birth
year that makes them 65+ at the simulated date.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from faker.providers.person.zh_CN import Provider as _PersonProvider
from faker.providers.phone_number.zh_CN import Provider as _PhoneProvider
from faker.providers.ssn.zh_CN import Provider as _SsnProvider

_SURNAMES = list(_PersonProvider.last_names.keys())
_SURNAME_CUM = list(__import__('itertools').accumulate(float(w) for w in _PersonProvider.last_names.values()))
_GIVEN = list(_PersonProvider.first_names)
_PREFIXES = [str(p) for p in _PhoneProvider.phonenumber_prefixes]
_AREAS = [a for a in _SsnProvider.area_codes if not a.endswith("00")]
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass
class Customer:
    key: str
    name: str
    mobile: str
    id_number: str
    birth_year: int
    user_id: str
    vip_level: int
    nick: str

    def age(self, year: int) -> int:
        return year - self.birth_year

    def elderly(self, year: int) -> bool:
        return self.age(year) >= 65


def id_check_digit(first17: str) -> str:
    """GB 11643-1999 check character of an 18-digit ID number."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def make_customer(rng: random.Random, index: int, year: int, elderly_share: float = 0.15) -> Customer:
    """One customer; `index` makes the key, mobile and user id unique."""
    surname = rng.choices(_SURNAMES, cum_weights=_SURNAME_CUM)[0]
    given = rng.choice(_GIVEN)
    if rng.random() < 0.4:
        given += rng.choice(_GIVEN)[:1]
    name = (surname + given)[:4]
    # Unique mobile: a real prefix + 8 digits derived from the index and noise.
    tail = (index * 7919 + rng.randrange(0, 7919)) % 100_000_000
    mobile = rng.choice(_PREFIXES) + f"{tail:08d}"
    elderly = rng.random() < elderly_share
    birth_year = rng.randint(year - 88, year - 65) if elderly else rng.randint(year - 64, year - 19)
    first17 = f"{rng.choice(_AREAS)}{birth_year:04d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    return Customer(
        key=f"CUST{index:06d}",
        name=name,
        mobile=mobile,
        id_number=first17 + id_check_digit(first17),
        birth_year=birth_year,
        user_id=f"U{10000 + index}",
        vip_level=rng.choice((0, 0, 0, 1, 1, 2, 3)),
        nick=f"黑猫用户{rng.randint(1000, 99999)}",
    )
