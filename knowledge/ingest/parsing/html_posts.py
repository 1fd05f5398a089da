"""HTML digest posts, including Substack pages and Substack API ``body_html``.

Headings (h1-h4) start sections; paragraphs, list items, block quotes, figure
captions and footnotes are kept as text; subscribe/share widgets, buttons,
scripts, navigation and site chrome are removed.
"""

from __future__ import annotations

from dataclasses import dataclass

from bs4 import BeautifulSoup, Tag

from knowledge.ingest.parsing.metadata import find_date
from knowledge.ingest.parsing.plaintext import RawSection
from knowledge.text import clean_line

_DROP_TAGS = ("script", "style", "noscript", "nav", "header", "footer", "form", "button", "svg", "iframe", "aside")
_DROP_CLASSES = (
    "subscription-widget",
    "subscription-widget-wrap",
    "subscribe-widget",
    "share-dialog",
    "button-wrapper",
    "post-footer",
    "footer",
    "captioned-button-wrap",
    "post-ufi",
    "like-button-container",
    "comments-section",
    "paywall",
    "image-link-expand",
    "digest-post-embed",
    "embedded-post-wrap",
    "navbar",
    "sidebar",
)
_BLOCKS = ("p", "li", "blockquote", "figcaption", "pre", "td")
_HEADINGS = ("h1", "h2", "h3", "h4")


@dataclass(slots=True)
class HtmlPost:
    """What an HTML post yields before it becomes a Document."""

    title: str
    date: str
    url: str
    sections: list[RawSection]
    footnotes: list[str]


def _meta(soup: BeautifulSoup, *names: str) -> str:
    for name in names:
        tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
        if isinstance(tag, Tag) and tag.get("content"):
            return str(tag["content"]).strip()
    return ""


def _drop_noise(root: Tag) -> None:
    for tag in root.find_all(_DROP_TAGS):
        tag.decompose()
    for cls in _DROP_CLASSES:
        for tag in root.find_all(class_=cls):
            tag.decompose()
    for tag in root.find_all(attrs={"data-component-name": True}):
        if "Subscribe" in str(tag.get("data-component-name")) or "Share" in str(tag.get("data-component-name")):
            tag.decompose()


def _footnotes(root: Tag) -> list[str]:
    notes = []
    for tag in root.find_all(class_=["footnote", "footnote-content"]):
        text = clean_line(tag.get_text(" "))
        if text:
            notes.append(text)
        tag.decompose()
    for tag in root.find_all("a", class_="footnote-anchor"):
        tag.decompose()
    return notes


def _body(soup: BeautifulSoup) -> Tag:
    for selector in ("div.available-content", "div.body.markup", "div.post-content", "article", "main", "body"):
        found = soup.select_one(selector)
        if isinstance(found, Tag):
            return found
    return soup


def _block_text(tag: Tag) -> str:
    for link in tag.find_all("a", href=True):
        href = str(link["href"])
        if "arxiv.org" in href and href not in link.get_text():
            link.append(f" ({href})")
    return clean_line(tag.get_text(" "))


def parse_html(html: str, *, fallback_title: str = "") -> HtmlPost:
    """Parse an HTML post (a whole page or a body fragment) into sections.

    Args:
        html: The HTML text.
        fallback_title: Title to use when the HTML names none.
    """
    soup = BeautifulSoup(html, "lxml")
    title = (
        _meta(soup, "og:title", "twitter:title")
        or clean_line(soup.select_one("h1.post-title").get_text(" ") if soup.select_one("h1.post-title") else "")
        or clean_line(soup.title.get_text(" ") if soup.title else "")
        or fallback_title
    )
    canon = soup.find("link", rel="canonical")
    url = (str(canon["href"]) if isinstance(canon, Tag) and canon.get("href") else "") or _meta(soup, "og:url")
    date = find_date(_meta(soup, "article:published_time", "date", "pubdate"))
    if not date:
        time_tag = soup.find("time")
        if isinstance(time_tag, Tag):
            date = find_date(str(time_tag.get("datetime") or time_tag.get_text(" ")))
    body = _body(soup)
    _drop_noise(body)
    footnotes = _footnotes(body)
    sections: list[RawSection] = [RawSection("", [])]
    for tag in body.find_all([*_HEADINGS, *_BLOCKS]):
        if tag.name in _HEADINGS:
            text = clean_line(tag.get_text(" "))
            if text and text != title:
                sections.append(RawSection(text, []))
            continue
        if tag.find_parent(_BLOCKS) is not None and tag.name != "figcaption":
            continue  # nested block: its text is part of the outer one
        text = _block_text(tag)
        if text:
            prefix = "• " if tag.name == "li" else ""
            sections[-1].paragraphs.append(prefix + text)
    if not title and len(sections) > 1 and not sections[0].paragraphs:
        title = sections[1].heading
    return HtmlPost(title=title, date=date, url=url, sections=[s for s in sections if s.paragraphs], footnotes=footnotes)
