"""knowledge/*.yml -> validated content -> database, in one transaction.

`check()` only validates; `load()` validates, then upserts everything and removes entries that left the
files, so running it twice changes nothing the second time.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import models
from bot.db import session_scope
from bot.knowledge import schema
from bot.knowledge.search import rebuild_index

# libyaml's safe loader is ~10x faster on large files; same results as yaml.safe_load.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KnowledgeError(Exception):
    """Content problems, each as one line that names file, entry and field."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Knowledge:
    gemeenten: list[schema.Gemeente] = field(default_factory=list)
    regelingen: list[tuple[str, schema.Regeling]] = field(default_factory=list)  # (file, entry)
    loketten: list[schema.Loket] = field(default_factory=list)
    makelaarsteams: list[schema.Makelaarsteam] = field(default_factory=list)
    content_hash: str = ""

    def counts(self) -> dict[str, int]:
        return {
            "gemeenten": len(self.gemeenten),
            "regelingen": len(self.regelingen),
            "loketten": len(self.loketten),
            "makelaarsteams": len(self.makelaarsteams),
        }


def _read_yaml(path: Path, problems: list[str]) -> dict | None:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)  # noqa: S506 - safe
    except yaml.YAMLError as exc:
        problems.append(f"{path.name}: geen geldige YAML: {exc}".replace("\n", " "))
        return None
    except OSError as exc:
        problems.append(f"{path.name}: kan het bestand niet lezen: {exc}")
        return None
    if not isinstance(data, dict):
        problems.append(f"{path.name}: het bestand moet beginnen met een lijst-naam, zoals 'regelingen:'")
        return None
    return data


def _entry_label(raw: object, index: int) -> str:
    if isinstance(raw, dict) and raw.get("id"):
        return f"entry {index + 1} (id {raw['id']!r})"
    return f"entry {index + 1}"


def _parse(path: Path, rel: str, file_model, list_key: str, problems: list[str]) -> list:
    data = _read_yaml(path, problems)
    if data is None:
        return []
    try:
        return getattr(file_model.parse_obj(data), list_key)
    except ValidationError as exc:
        raw_items = data.get(list_key) if isinstance(data.get(list_key), list) else []
        for err in exc.errors():
            loc = list(err["loc"])
            if len(loc) >= 2 and loc[0] == list_key and isinstance(loc[1], int):
                idx = loc[1]
                raw = raw_items[idx] if idx < len(raw_items) else None
                where = _entry_label(raw, idx)
                fld = ".".join(str(p) for p in loc[2:]) or "(entry)"
            else:
                where, fld = "(file)", ".".join(str(p) for p in loc)
            problems.append(f"{rel}: {where}, field '{fld}': {err['msg']}")
        return []


def read_knowledge(knowledge_dir: Path) -> Knowledge:
    """Read and validate all files; raise KnowledgeError listing every problem found."""
    problems: list[str] = []
    kn = Knowledge()
    digest = hashlib.sha256()

    def rel(p: Path) -> str:
        return str(p.relative_to(knowledge_dir))

    files = {
        "gemeenten.yml": (schema.GemeentenFile, "gemeenten"),
        "loketten.yml": (schema.LokettenFile, "loketten"),
        "makelaarsteams.yml": (schema.MakelaarsteamsFile, "makelaarsteams"),
    }
    for name, (model, key) in files.items():
        path = knowledge_dir / name
        if not path.exists():
            problems.append(f"{name}: bestand ontbreekt in {knowledge_dir}")
            continue
        digest.update(path.read_bytes())
        setattr(kn, key, _parse(path, name, model, key, problems))

    reg_files = sorted((knowledge_dir / "regelingen").glob("*.yml"))
    if not reg_files:
        problems.append("regelingen/: geen bestanden gevonden")
    for path in reg_files:
        digest.update(path.read_bytes())
        for item in _parse(path, rel(path), schema.RegelingenFile, "regelingen", problems):
            kn.regelingen.append((rel(path), item))

    problems += _cross_check(kn)
    if problems:
        raise KnowledgeError(problems)
    kn.content_hash = digest.hexdigest()
    return kn


def _duplicates(kind: str, pairs: Iterable[tuple[str, str]]) -> list[str]:
    seen: dict[str, str] = {}
    out = []
    for where, ident in pairs:
        if ident in seen:
            out.append(f"{where}: dubbele id {ident!r} bij {kind} (staat ook in {seen[ident]})")
        else:
            seen[ident] = where
    return out


def _cross_check(kn: Knowledge) -> list[str]:
    problems: list[str] = []
    problems += _duplicates("gemeenten", (("gemeenten.yml", g.id) for g in kn.gemeenten))
    problems += _duplicates("regelingen", ((f, r.id) for f, r in kn.regelingen))
    problems += _duplicates("loketten", (("loketten.yml", lk.id) for lk in kn.loketten))
    problems += _duplicates("makelaarsteams", (("makelaarsteams.yml", t.id) for t in kn.makelaarsteams))
    if not kn.gemeenten:  # without the list every reference below would be reported
        return problems
    known = {g.id for g in kn.gemeenten}

    def unknown(where: str, ids: Iterable[str]) -> None:
        for gid in ids:
            if gid not in known:
                problems.append(f"{where}: onbekende gemeente {gid!r} (niet in gemeenten.yml)")

    for f, r in kn.regelingen:
        unknown(f"{f}: regeling {r.id!r}, field 'region.gemeenten'", r.region.gemeenten)
    for lk in kn.loketten:
        unknown(f"loketten.yml: loket {lk.id!r}, field 'region.gemeenten'", lk.region.gemeenten)
    for t in kn.makelaarsteams:
        unknown(f"makelaarsteams.yml: team {t.id!r}, field 'gemeenten'", t.gemeenten)
    return problems


def check(knowledge_dir: Path) -> Knowledge:
    return read_knowledge(knowledge_dir)


def _region_columns(region: schema.Region) -> dict:
    return {
        "region_level": region.level,
        "region_provincie": region.provincie,
        "region_gemeenten": list(region.gemeenten),
    }


def _rows(kn: Knowledge) -> list[tuple[type, dict]]:
    rows: list[tuple[type, dict]] = []
    for g in kn.gemeenten:
        rows.append((models.Gemeente, g.dict()))
    for f, r in kn.regelingen:
        d = r.dict(exclude={"region"})
        d.update(_region_columns(r.region), source_url=str(r.source_url), source_file=f)
        rows.append((models.Regeling, d))
    for lk in kn.loketten:
        d = lk.dict(exclude={"region"})
        d.update(_region_columns(lk.region), url=str(lk.url))
        rows.append((models.Loket, d))
    for t in kn.makelaarsteams:
        d = t.dict(exclude={"delivery"})
        d.update(
            channel=t.delivery.channel,
            email=t.delivery.email,
            webhook_url=str(t.delivery.url) if t.delivery.url else None,
            webhook_secret_env=t.delivery.secret_env,
        )
        rows.append((models.Makelaarsteam, d))
    return rows


def _progress(items: list, enabled: bool):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="kennisbank laden", unit="item", file=sys.stderr)


def load(engine: Engine | None, knowledge_dir: Path, progress: bool = False) -> Knowledge:
    """Validate, then upsert all content in one transaction. Idempotent."""
    kn = read_knowledge(knowledge_dir)
    rows = _rows(kn)
    with session_scope(engine) as session:
        _upsert(session, rows, progress)
        for model in (models.Regeling, models.Loket, models.Makelaarsteam, models.Gemeente):
            keep = [d["id"] for m, d in rows if m is model]
            if model is models.Makelaarsteam:
                # Handoffs and users point at teams: a team that left the file stays, inert.
                continue
            session.execute(delete(model).where(model.id.not_in(keep)))
        # Same transaction: readers see the old content and index, or the new ones, never a mix.
        rebuild_index(session, progress=progress)
        session.add(models.KnowledgeVersion(content_hash=kn.content_hash, counts=kn.counts()))
    return kn


def _upsert(session: Session, rows: list[tuple[type, dict]], progress: bool) -> None:
    existing = {
        model: {obj.id: obj for obj in session.execute(select(model)).scalars()}
        for model in {m for m, _ in rows}
    }
    for model, data in _progress(rows, progress and len(rows) > 200):
        obj = existing[model].get(data["id"])
        if obj is None:
            session.add(model(**data))
            continue
        for key, value in data.items():
            if getattr(obj, key) != value:
                setattr(obj, key, value)
