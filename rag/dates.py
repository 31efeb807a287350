"""Publication dates and outlets stated in a text: Gregorian (English, Arabic and Persian month
names) and Solar Hijri dates in any digit set, converted to ISO. A date is taken only from a
line that is a date (a dateline, "May 21 2019") or that carries a publication label
("تاریخ انتشار", "Published", "تاريخ النشر") near the top or bottom of the text; a date inside a
sentence is an event, not the publication date, and a date that cannot be established is left
empty, never guessed. Lunar Hijri dates ("1 رمضان 1441 هـ") are converted by the arithmetic
(tabular) Islamic calendar, which can differ by a day from a sighted or Umm al-Qura date; when
a line states a Gregorian date too, the Gregorian one is taken.
"""

from __future__ import annotations

import math
import re
from datetime import date

from rag.normalize import normalize as clean

_GREGORIAN_MONTHS = {
    # English
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
    # Arabic (Egyptian/Gulf and Levantine names) and Persian transliterations
    "يناير": 1, "فبراير": 2, "مارس": 3, "ابريل": 4, "مايو": 5, "يونيو": 6, "يوليو": 7,
    "اغسطس": 8, "سبتمبر": 9, "اكتوبر": 10, "نوفمبر": 11, "ديسمبر": 12,
    "كانون الثاني": 1, "شباط": 2, "اذار": 3, "نيسان": 4, "ايار": 5, "حزيران": 6, "تموز": 7,
    "اب": 8, "ايلول": 9, "تشرين الاول": 10, "تشرين الثاني": 11, "كانون الاول": 12,
    "ژانویه": 1, "فوریه": 2, "آوریل": 4, "مه": 5, "می": 5, "ژوئن": 6, "ژوئیه": 7, "اوت": 8,
    "سپتامبر": 9, "اکتبر": 10, "نوامبر": 11, "دسامبر": 12,
}  # fmt: skip
_SOLAR_MONTHS = {
    "فروردین": 1, "اردیبهشت": 2, "خرداد": 3, "تیر": 4, "مرداد": 5, "شهریور": 6, "مهر": 7,
    "آبان": 8, "آذر": 9, "دی": 10, "بهمن": 11, "اسفند": 12,
}  # fmt: skip
_HIJRI_MONTHS = {
    # Arabic
    "محرم": 1, "صفر": 2, "ربيع الاول": 3, "ربيع الاخر": 4, "ربيع الثاني": 4,
    "جمادى الاولى": 5, "جمادى الاول": 5, "جمادى الاخرة": 6, "جمادى الثانية": 6,
    "جمادى الاخر": 6, "جمادى الثاني": 6, "رجب": 7, "شعبان": 8, "رمضان": 9, "شوال": 10,
    "ذو القعدة": 11, "ذي القعدة": 11, "ذو الحجة": 12, "ذي الحجة": 12,
    # Persian
    "ربیع الاول": 3, "ربیع الثانی": 4, "جمادی الاول": 5, "جمادی الاولی": 5,
    "جمادی الثانی": 6, "جمادی الثانیه": 6, "ذیقعده": 11, "ذی القعده": 11, "ذیحجه": 12,
    "ذی الحجه": 12,
    # English
    "muharram": 1, "safar": 2, "rabi al-awwal": 3, "rabi i": 3, "rabi al-thani": 4,
    "rabi al-akhir": 4, "rabi ii": 4, "jumada al-awwal": 5, "jumada al-ula": 5,
    "jumada i": 5, "jumada al-thani": 6, "jumada al-akhirah": 6, "jumada ii": 6, "rajab": 7,
    "shaban": 8, "sha'ban": 8, "ramadan": 9, "ramadhan": 9, "shawwal": 10,
    "dhu al-qadah": 11, "dhu al-qa'dah": 11, "dhul qadah": 11, "dhu al-hijjah": 12,
    "dhul hijjah": 12,
}  # fmt: skip
_LABELS = re.compile(
    r"تاریخ انتشار|تاريخ النشر|نشر في|تاريخ|published|updated|posted|date", re.IGNORECASE
)
_SOURCE_LINE = re.compile(r"^\s*(?:source|منبع|المصدر)\s*[:：]\s*(.{2,80}?)\s*$", re.I)


def _names(table: dict[str, int]) -> str:
    keys = sorted({clean(k) for k in table}, key=len, reverse=True)
    return "|".join(re.escape(k) for k in keys)


_G = _names(_GREGORIAN_MONTHS)
_S = _names(_SOLAR_MONTHS)
_GREG_DMY = re.compile(rf"\b(\d{{1,2}})\s+({_G})(?:\s+ماه)?,?\s+(\d{{4}})\b")
_GREG_MDY = re.compile(rf"\b({_G})\.?\s+(\d{{1,2}}),?\s+(\d{{4}})\b")
_FOUR_DIGITS = re.compile(r"\d{4}")
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_SOLAR = re.compile(rf"(\d{{1,2}})\s+({_S})(?:\s+ماه)?\s+(\d{{4}})")
_LOOKUP_G = {clean(k): v for k, v in _GREGORIAN_MONTHS.items()}
_LOOKUP_S = {clean(k): v for k, v in _SOLAR_MONTHS.items()}


def _spaceless(name: str) -> str:
    return clean(name).replace(" ", "")


# Hijri month names are matched with or without the space a ZWNJ or "ال" may leave out
# (ربیع‌الاول and ربیع الاول both become ربیعالاول), and the year must carry a Hijri mark
# unless the month name is unambiguous: صفر is also "zero" and رجب a first name.
_LOOKUP_H = {_spaceless(k): v for k, v in _HIJRI_MONTHS.items()}
_H = "|".join(
    r"\s?".join(re.escape(part) for part in clean(k).split(" "))
    for k in sorted(_HIJRI_MONTHS, key=len, reverse=True)
)
_HIJRI = re.compile(
    rf"\b(\d{{1,2}})\s+({_H})\s+(\d{{4}})(\s*(?:هـ|ه|ھ|ه\.?\s?ق|هجری|هجريه?|قمری|ah|a\.h\.?)(?!\w))?",
    re.IGNORECASE,
)
_AMBIGUOUS_H = {_spaceless("صفر"), _spaceless("رجب")}


def hijri_to_gregorian(hy: int, hm: int, hd: int) -> date:
    """Lunar Hijri to Gregorian by the arithmetic (tabular, civil epoch) Islamic calendar."""
    jdn = hd + math.ceil(29.5 * (hm - 1)) + (hy - 1) * 354 + (3 + 11 * hy) // 30 + 1948439
    return date.fromordinal(jdn - 1721425)


def jalali_to_gregorian(jy: int, jm: int, jd: int) -> date:
    """Solar Hijri (Jalali) to Gregorian, by the 33-year arithmetic rule (exact 1178–1633 SH)."""
    jy += 1595
    days = -355668 + 365 * jy + (jy // 33) * 8 + ((jy % 33) + 3) // 4 + jd
    days += (jm - 1) * 31 if jm < 7 else (jm - 7) * 30 + 186
    gy = 400 * (days // 146097)
    days %= 146097
    if days > 36524:
        days -= 1
        gy += 100 * (days // 36524)
        days %= 36524
        if days >= 365:
            days += 1
    gy += 4 * (days // 1461)
    days %= 1461
    if days > 365:
        gy += (days - 1) // 365
        days = (days - 1) % 365
    gd = days + 1
    leap = (gy % 4 == 0 and gy % 100 != 0) or gy % 400 == 0
    lengths = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    gm = 0
    while gd > lengths[gm]:
        gd -= lengths[gm]
        gm += 1
    return date(gy, gm + 1, gd)


def _valid(y: int, m: int, d: int) -> date | None:
    try:
        found = date(y, m, d)
    except ValueError:
        return None
    return found if 1900 <= y <= 2100 else None


def dates_in(line: str) -> list[date]:
    """Every full date (day, month, year) written in ``line``, converted to Gregorian."""
    if not _FOUR_DIGITS.search(line):
        return []  # every pattern has a four-digit year (\d is any digit set): a fast exit
    text = clean(line)
    found: list[date | None] = []
    for m in _SOLAR.finditer(text):
        day, month, year = int(m.group(1)), _LOOKUP_S[m.group(2)], int(m.group(3))
        if 1300 <= year <= 1500 and 1 <= day <= 31:
            found.append(jalali_to_gregorian(year, month, day))
    for m in _GREG_DMY.finditer(text):
        found.append(_valid(int(m.group(3)), _LOOKUP_G[m.group(2)], int(m.group(1))))
    for m in _GREG_MDY.finditer(text):
        found.append(_valid(int(m.group(3)), _LOOKUP_G[m.group(1)], int(m.group(2))))
    for m in _ISO.finditer(text):
        found.append(_valid(int(m.group(1)), int(m.group(2)), int(m.group(3))))
    # Hijri last: a line that gives both calendars is dated by its Gregorian date.
    for m in _HIJRI.finditer(text):
        day, month, year = int(m.group(1)), _LOOKUP_H[m.group(2).replace(" ", "")], int(m.group(3))
        marked = bool(m.group(4))
        if m.group(2).replace(" ", "") in _AMBIGUOUS_H and not marked:
            continue
        if 1318 <= year <= 1500 and 1 <= day <= 30:
            found.append(hijri_to_gregorian(year, month, day))
    return [d for d in found if d is not None]


def _is_dateline(line: str) -> bool:
    """A line that is a date and little else (time, weekday, separators allowed)."""
    rest = clean(line)
    for pattern in (_SOLAR, _GREG_DMY, _GREG_MDY, _ISO, _HIJRI):
        rest = pattern.sub(" ", rest)
    rest = re.sub(r"\d{1,2}:\d{2}|[-–—|/,:·•()]", " ", rest)
    return len(rest.split()) <= 2


def publication_date(text: str, edge_lines: int = 15) -> str:
    """The ISO publication date the text states near its top or bottom, or ''."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    edges = lines[:edge_lines] + lines[-5:]
    for line in edges:
        if len(line.split()) > 30 and not _LABELS.search(line):
            continue  # prose: a dateline is a date and at most two other words
        found = dates_in(line)
        if found and (_LABELS.search(line) or _is_dateline(line)):
            return found[0].isoformat()
    return ""


def stated_source(text: str) -> str:
    """The outlet named on a "Source:" / "منبع:" / "المصدر:" line, or ''."""
    for line in text.splitlines()[-15:] + text.splitlines()[:5]:
        match = _SOURCE_LINE.match(line)
        if match:
            return match.group(1).strip()
    return ""
