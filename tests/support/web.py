"""Helpers for the web app's pages: log in with the aiohttp test client, read a table."""

from __future__ import annotations

from html.parser import HTMLParser

PASSWORD = "een-lang-wachtwoord"


def parse_table(html: str, table_id: str = "knelpunten-tabel") -> tuple[list[str], list[list[str]]]:
    parser = TableParser(table_id)
    parser.feed(html)
    return parser.header, parser.rows


async def login(client, username: str) -> None:
    client.session.cookie_jar.clear()  # log out first: a logged-in POST needs a CSRF token
    resp = await client.post("/inloggen", data={"username": username, "password": PASSWORD},
                             allow_redirects=False)
    assert resp.status == 302, await resp.text()


class TableParser(HTMLParser):
    """Header and cell texts of one <table id=...>."""

    def __init__(self, table_id: str):
        super().__init__()
        self.table_id, self.depth = table_id, 0
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._in_head = False

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == self.table_id:
            self.depth = 1
        elif self.depth:
            if tag == "thead":
                self._in_head = True
            elif tag == "tr" and not self._in_head:
                self.rows.append([])
            elif tag in ("td", "th"):
                self._cell = []

    def handle_endtag(self, tag):
        if not self.depth:
            return
        if tag == "table":
            self.depth = 0
        elif tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell)
            (self.header if self._in_head else self.rows[-1]).append(text)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
