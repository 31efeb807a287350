"""Write one Arabic and one Persian article as HTML, PDF, DOCX, windows-1256 and UTF-16 text.

The articles are the opening paragraphs of two bundled sample texts. Run from the repository
root with the dev dependencies installed (reportlab, arabic-reshaper, python-bidi,
python-docx) and Debian's DejaVu Sans:

    .venv/bin/python tests/data/formats/make_fixtures.py

The PDFs are drawn the way many real Arabic-script PDFs are: shaped presentation-form glyphs in
visual order (what pypdf then reads backwards), wrapped over lines and over two pages, with a
page number at the foot of each page. ``expected_<lang>.txt`` holds the main text every format
must give.
"""

from __future__ import annotations

import html
from pathlib import Path

HERE = Path(__file__).parent
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def legacy_1256(text: str) -> str:
    """What windows-1256 can hold of ``text``: Arabic yeh, ASCII digits."""
    return text.translate(str.maketrans({"ی": "ي"} | {chr(0x06F0 + i): str(i) for i in range(10)}))


ARTICLES = {
    "ar": [
        "أردوغان وبوتين يتفقان على “تكثيف التشاور” لخفض التوتر في إدلب",
        "أكد الطرفان في بيان صدر عن “الكريملين” على ضرورة استمرار الاتصالات بين العسكريين "
        "الروس والأتراك بشكل مكثف لخفض حدة التوتر، وإزالة التهديد الإرهابي”، إضافة إلى "
        "اتفاقهما على مواصلة اتصالات مكثفة بين وزارتي الدفاع.",
        "وطالب الرئيس التركي نظيره الروسي على “كبح” قوات النظام التي تشن هجوما بدعم روسي في "
        "المحافظة، مؤكدا “ضرورة أن تنتهي الأزمة الإنسانية”، وفق بيان للرئاسة التركية.",
        "وقال الرئيس التركي لنظيره الروسي إن الحل يكمن في العودة إلى اتفاق سوتشي الموقع في "
        "العام 2018 الذي أتاح لتركيا إقامة نقاط مراقبة عسكرية في إدلب بهدف ردع أي هجوم للنظام "
        "السوري على المنطقة.",
        "من جهته، أعرب بوتين خلال الاتصال عن “قلقه البالغ” إزاء “الأعمال العدوانية للإرهابيين” "
        "في إدلب.",
    ],
    "fa": [
        "پوتین خطاب به اردوغان: تجاوزات به سوریه فورا متوقف شود",
        "کرملین در بیانیهای اعلام کرد که ولادیمیر پوتین رئیس جمهور روسیه تلفنی با رجب طیب "
        "اردوغان رئیس جمهور ترکیه درباره اوضاع سوریه گفتوگو کرده است.",
        "به گزارش ایرنا به نقل از خبرگزاری اسپوتنیک، پوتین در این تماس تلفنی بر ضرورت توقف "
        "سریع تجاوز گروههای تروریستی تندرو به حاکمیت سوریه و ضرورت پشتیبانی کامل از تلاشهای "
        "حکومت سوریه برای بازگرداندن ثبات و آرامش به سراسر این کشور، تاکید کرده است.",
        "بر اساس این بیانیه، سران روسیه و ترکیه در این تماس درباره همکاریهای دوجانبه یا چند "
        "جانبه در چارچوب روند آستانه با یکدیگر گفت وگو و بر اهمیت هماهنگی میان روسیه، ترکیه و "
        "ایران برای آرام کردن اوضاع در سوریه تاکید کردهاند. از ۷ آذر ۱۳۹۸ تا امروز.",
    ],
}


def write_html(lang: str, paras: list[str]) -> None:
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paras[1:])
    page = f"""<!doctype html>
<html lang="{lang}" dir="rtl"><head><meta charset="utf-8">
<title>{html.escape(paras[0])} | خبر</title>
<script>var tracker = "ignore me";</script></head>
<body><nav><a href="/">الرئيسية</a> <a href="/world">العالم</a></nav>
<article><h1>{html.escape(paras[0])}</h1>
{body}
</article>
<footer>© 2020 جميع الحقوق محفوظة</footer></body></html>
"""
    (HERE / f"article_{lang}.html").write_text(page, encoding="utf-8")


def write_pdf(lang: str, paras: list[str]) -> None:
    import arabic_reshaper
    from bidi.algorithm import get_display
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(TTFont("DejaVu", FONT))
    size, width, top, bottom = 14, 300, 780, 560
    pdf = canvas.Canvas(str(HERE / f"article_{lang}.pdf"))
    pdf.setTitle(paras[0])
    page = 1
    y = top

    def new_page() -> None:
        nonlocal page, y
        pdf.setFont("DejaVu", 10)
        pdf.drawCentredString(300, 40, str(page))
        pdf.showPage()
        page += 1
        y = top

    for para in paras:
        lines: list[str] = []
        for word in para.split():
            candidate = f"{lines[-1]} {word}" if lines else word
            if lines and pdfmetrics.stringWidth(candidate, "DejaVu", size) <= width:
                lines[-1] = candidate
            else:
                lines.append(word)
        for line in lines:
            if y < bottom:
                new_page()
            pdf.setFont("DejaVu", size)
            pdf.drawRightString(500, y, get_display(arabic_reshaper.reshape(line)))
            y -= size * 1.4
        y -= size * 1.6  # paragraph gap
    new_page()
    pdf.save()


def write_docx(lang: str, paras: list[str]) -> None:
    import docx
    from docx.oxml.parser import OxmlElement

    document = docx.Document()
    document.core_properties.title = paras[0]
    for i, para in enumerate(paras):
        p = document.add_heading(para, level=1) if i == 0 else document.add_paragraph(para)
        p._p.get_or_add_pPr().append(OxmlElement("w:bidi"))
        for run in p.runs:
            run._r.get_or_add_rPr().append(OxmlElement("w:rtl"))
            run._r.get_or_add_rPr().append(OxmlElement("w:cs"))
    document.save(str(HERE / f"article_{lang}.docx"))


def main() -> None:
    for lang, paras in ARTICLES.items():
        text = "\n".join(paras) + "\n"
        (HERE / f"expected_{lang}.txt").write_text(text, encoding="utf-8")
        write_html(lang, paras)
        write_pdf(lang, paras)
        write_docx(lang, paras)
        # Legacy Windows Arabic has no Persian yeh and no Persian digits: old Persian files
        # carry Arabic yeh and ASCII digits.
        (HERE / f"article_{lang}.cp1256.txt").write_bytes(legacy_1256(text).encode("cp1256"))
        # UTF-16: with a BOM for Arabic, without one (little-endian) for Persian.
        encoded = text.encode("utf-16") if lang == "ar" else text.encode("utf-16-le")
        (HERE / f"article_{lang}.utf16.txt").write_bytes(encoded)


if __name__ == "__main__":
    main()
