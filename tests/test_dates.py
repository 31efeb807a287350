"""Publication dates and outlets stated in texts: Solar Hijri and Gregorian in three languages
and three digit sets; datelines and labelled lines only, never a date inside a sentence."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import SAMPLES

from rag.dates import (
    dates_in,
    hijri_to_gregorian,
    jalali_to_gregorian,
    publication_date,
    stated_source,
)
from rag.ingest import iter_sources


@pytest.mark.parametrize(
    ("jalali", "gregorian"),
    [
        ((1398, 12, 11), date(2020, 3, 1)),
        ((1403, 9, 7), date(2024, 11, 27)),
        ((1399, 1, 1), date(2020, 3, 20)),  # Nowruz of a Gregorian leap year
        ((1357, 11, 22), date(1979, 2, 11)),
        ((1402, 12, 29), date(2024, 3, 19)),
        ((1403, 12, 30), date(2025, 3, 20)),  # 1403 is a leap year
    ],
)
def test_jalali_to_gregorian(jalali: tuple[int, int, int], gregorian: date) -> None:
    assert jalali_to_gregorian(*jalali) == gregorian


@pytest.mark.parametrize(
    ("hijri", "gregorian"),
    [
        ((1441, 9, 1), date(2020, 4, 24)),  # 1 Ramadan 1441
        ((1442, 1, 1), date(2020, 8, 20)),  # 1 Muharram 1442
        ((1445, 9, 1), date(2024, 3, 11)),
        ((1400, 1, 1), date(1979, 11, 21)),
    ],
)
def test_hijri_to_gregorian(hijri: tuple[int, int, int], gregorian: date) -> None:
    assert hijri_to_gregorian(*hijri) == gregorian


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("۱۱ اسفند ۱۳۹۸", [date(2020, 3, 1)]),
        ("١١ اسفند ١٣٩٨", [date(2020, 3, 1)]),  # Arabic-Indic digits
        ("11 اسفند ماه 1398", [date(2020, 3, 1)]),
        ("May 21 2019", [date(2019, 5, 21)]),
        ("01 March 2020", [date(2020, 3, 1)]),
        ("Sept. 17, 2018", [date(2018, 9, 17)]),
        ("2024-08-11", [date(2024, 8, 11)]),
        ("٥ مارس ٢٠٢٠", [date(2020, 3, 5)]),
        ("12 تشرين الأول 2019", [date(2019, 10, 12)]),
        ("۲۷ نوامبر ۲۰۲۴", [date(2024, 11, 27)]),
        ("الأحد 1 رمضان 1441 هـ", [date(2020, 4, 24)]),  # lunar Hijri, Arabic
        ("۱ رمضان ۱۴۴۱ ه.ق", [date(2020, 4, 24)]),  # Persian digits and mark
        ("۱۵ ربیع‌الاول ۱۴۴۲", [date(2020, 11, 1)]),  # ZWNJ inside the month name
        ("5 رجب 1441 هـ", [date(2020, 2, 29)]),
        ("1 Ramadan 1441 AH", [date(2020, 4, 24)]),
        ("12 صفر 1442", []),  # صفر is also "zero": only with a Hijri mark
        ("رجب طیب اردوغان ۱۴۴۱", []),  # a first name, not a month
        # Both calendars on one line: the Gregorian date comes first.
        ("الخميس 5 رجب 1441 هـ الموافق 29 فبراير 2020 م", [date(2020, 2, 29), date(2020, 2, 29)]),
        ("31 فبراير 2020", []),  # no such day
        ("On September 17, during talks", []),  # no year: not a full date
    ],
)
def test_dates_in(line: str, expected: list[date]) -> None:
    assert dates_in(line) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("عنوان\nتاریخ انتشار: ۱۱ اسفند ۱۳۹۸ - ۱۱:۳۴\nمتن خبر.", "2020-03-01"),
        ("Headline\n\nMay 21 2019\n\nBody text here.", "2019-05-21"),
        ("العنوان\nتاريخ النشر: 5 مارس 2020\nالنص.", "2020-03-05"),
        # Event dates inside sentences are not publication dates.
        ("گروهها از بامداد ۷ آذر ماه ۱۴۰۳ حمله کردند.\nمتن.", ""),
        ("وأعلن اقتراحا لعقد قمة في إسطنبول بتاريخ 5 مارس المقبل.", ""),
        ("On September 17, 2018 an agreement was reached in Sochi.", ""),
        ("الخميس 5 رجب 1441 هـ\nنص الخبر عن إدلب.", "2020-02-29"),
        ("No date at all.", ""),
    ],
)
def test_publication_date(text: str, expected: str) -> None:
    assert publication_date(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Body.\nSource: Asharq Al-Awsat\n459", "Asharq Al-Awsat"),
        ("متن خبر.\nمنبع: etemadonline-688273", "etemadonline-688273"),
        ("نص الخبر.\nالمصدر: الشرق الأوسط", "الشرق الأوسط"),
        ("The source said the talks failed.", ""),
    ],
)
def test_stated_source(text: str, expected: str) -> None:
    assert stated_source(text) == expected


def test_sample_documents_carry_their_stated_dates() -> None:
    docs = {d.doc_id[:4]: d for d in iter_sources([SAMPLES])}  # type: ignore[union-attr]
    assert docs["001_"].meta["date"] == "2020-03-01"  # "۱۱ اسفند ۱۳۹۸ ... 01 March 2020"
    assert docs["002_"].meta["date"] == "2019-05-21"  # "May 21 2019"
    assert docs["001_"].meta["date_from"] == docs["002_"].meta["date_from"] == "text"
    # 000_ and 003_ state no publication date: left empty, not taken from an event.
    assert docs["000_"].meta["date"] == docs["003_"].meta["date"] == ""
    assert docs["002_"].meta["source"] == "Asharq Al-Awsat"
    assert docs["002_"].meta["source_from"] == "text"
