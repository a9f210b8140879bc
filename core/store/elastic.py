"""The Elasticsearch store adapter (8.x and later servers; the client is 8.x).

Each kind lives in a versioned index (``<prefix>-mentions-v1``) created from an index
template kept as JSON beside this module, and is read and written through an alias
(``<prefix>-mentions``). Only features present in every distribution are required
(standard analyser, bool/match/prefix queries, date_histogram, terms, highlighting);
when the cluster has the analysis-common module, text fields also get German, English
and accent-folded sub-fields that searches use as well.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import TransportError
from elasticsearch import ApiError, AuthenticationException, Elasticsearch, NotFoundError

from core.records import Alert, EnrichedMention
from core.settings import ElasticsearchSettings
from core.store.documents import alert_doc, mention_doc
from core.store.port import (
    TEXT_FIELDS,
    TIME_FIELD,
    Hit,
    Kind,
    SearchQuery,
    SearchResult,
    Store,
    StoreError,
    fill_histogram,
    to_ms,
)
from core.store.query import Bool, Keyword, Node, Text, parse_query

SCHEMA_VERSION = 1
_MAX_PREFIX_EXPANSIONS = 1000


def _template(name: str) -> dict[str, Any]:
    raw = resources.files("core.store").joinpath("templates", name).read_text("utf-8")
    body: dict[str, Any] = json.loads(raw)
    body.pop("_comment", None)
    return body


class ElasticStore(Store):
    name = "elasticsearch"

    def __init__(self, settings: ElasticsearchSettings) -> None:
        self.settings = settings
        auth: dict[str, Any] = {}
        if settings.api_key is not None:
            auth["api_key"] = settings.api_key.get_secret_value()
        elif settings.username and settings.password is not None:
            auth["basic_auth"] = (settings.username, settings.password.get_secret_value())
        if settings.ca_file is not None:
            auth["ca_certs"] = str(settings.ca_file)
        self._es = Elasticsearch(
            list(settings.hosts),
            verify_certs=settings.verify_certs,
            request_timeout=settings.request_timeout_s,
            retry_on_status=(429, 502, 503, 504),
            retry_on_timeout=True,
            max_retries=5,
            **auth,
        )
        self._rich: bool | None = None

    def alias(self, kind: Kind) -> str:
        return f"{self.settings.index_prefix}-{kind}"

    def _fail(self, what: str, exc: Exception) -> StoreError:
        hosts = ",".join(self.settings.hosts)
        if isinstance(exc, AuthenticationException):
            return StoreError(
                f"store.elasticsearch: {what}: authentication refused by {hosts} (401); "
                "check api_key or username/password"
            )
        if isinstance(exc, TransportConnectionError):
            return StoreError(
                f"store.elasticsearch.hosts: no Elasticsearch reachable at {hosts} "
                f"({type(exc).__name__})"
            )
        return StoreError(f"store.elasticsearch: {what}: {exc}")

    # -- schema ------------------------------------------------------------------------
    def rich_analysis(self) -> bool:
        """Whether the cluster offers analysis-common (language analysers, asciifolding)."""
        if self._rich is None:
            try:
                info = self._es.nodes.info(metric="plugins")
                modules = [
                    {m["name"] for m in node.get("modules", [])} for node in info["nodes"].values()
                ]
                self._rich = bool(modules) and all("analysis-common" in m for m in modules)
            except ApiError:
                self._rich = False  # no monitor privilege: use what every cluster has
        return self._rich

    def _index_body(self, kind: Kind) -> dict[str, Any]:
        body = _template(f"{kind}.v{SCHEMA_VERSION}.json")
        settings: dict[str, Any] = {
            "number_of_shards": self.settings.shards,
            "number_of_replicas": self.settings.replicas,
        }
        if self.rich_analysis():
            rich = _template(f"analysis-rich.v{SCHEMA_VERSION}.json")
            settings["analysis"] = rich["analysis"]
            for name in TEXT_FIELDS[kind]:
                body["mappings"]["properties"][name]["fields"] = rich["subfields"]
        return {"settings": settings, "mappings": body["mappings"]}

    def ensure_schema(self) -> None:
        try:
            for kind in ("mentions", "alerts"):
                alias = self.alias(kind)
                body = self._index_body(kind)
                self._es.indices.put_index_template(
                    name=alias,
                    index_patterns=[f"{alias}-v*"],
                    template={**body, "aliases": {alias: {}}},
                    priority=200,
                    meta={"managed_by": "stormwatch", "schema_version": SCHEMA_VERSION},
                )
                index = f"{alias}-v{SCHEMA_VERSION}"
                if not self._es.indices.exists(index=index):
                    try:
                        self._es.indices.create(index=index, wait_for_active_shards="1")
                    except ApiError as exc:
                        if exc.error != "resource_already_exists_exception":
                            raise
            self._es.cluster.health(
                index=f"{self.settings.index_prefix}-*",
                wait_for_status="yellow",
                timeout="30s",
            )
        except (ApiError, TransportError) as exc:
            raise self._fail("cannot create the index templates and indices", exc) from exc

    # -- writing -----------------------------------------------------------------------
    def _bulk(self, kind: Kind, docs: list[dict[str, Any]]) -> int:
        if not docs:
            return 0
        ops: list[dict[str, Any]] = []
        for d in docs:
            ops.append({"index": {"_index": self.alias(kind), "_id": d["id"]}})
            ops.append(d)
        try:
            resp = self._es.bulk(operations=ops)
        except (ApiError, TransportError) as exc:
            raise self._fail(f"bulk index of {len(docs)} {kind} failed", exc) from exc
        if resp.get("errors"):
            failed = [i["index"] for i in resp["items"] if i["index"].get("error")]
            first = failed[0]
            raise StoreError(
                f"{len(failed)} of {len(docs)} {kind} were not indexed; first: id "
                f"{first.get('_id')}: {first['error'].get('type')}: {first['error'].get('reason')}"
            )
        return len(docs)

    def index_mentions(self, mentions: Sequence[EnrichedMention]) -> int:
        return self._bulk("mentions", [mention_doc(m) for m in mentions])

    def index_alerts(self, alerts: Sequence[Alert]) -> int:
        return self._bulk("alerts", [alert_doc(a) for a in alerts])

    def refresh(self) -> None:
        try:
            self._es.indices.refresh(index=f"{self.settings.index_prefix}-*")
        except (ApiError, TransportError) as exc:
            raise self._fail("refresh failed", exc) from exc

    # -- reading -----------------------------------------------------------------------
    def _fields(self, name: str) -> list[str]:
        boost = "^2" if name == "title" else ""
        if not self.rich_analysis():
            return [name + boost]
        return [name + boost, f"{name}.de", f"{name}.en", f"{name}.folded"]

    def _compile(self, node: Node) -> dict[str, Any]:
        if isinstance(node, Keyword):
            kind = "prefix" if node.prefix else "term"
            return {kind: {node.field: node.value}}
        if isinstance(node, Text):
            queries = []
            for f in (f for name in node.fields for f in self._fields(name)):
                field, _, boost = f.partition("^")
                weight = float(boost) if boost else 1.0
                if node.prefix and len(node.tokens) == 1:
                    # a prefix query is not analysed: lower-cased here as the index is
                    q = {"prefix": {field: {"value": node.tokens[0].lower(), "boost": weight}}}
                elif node.prefix:
                    q = {
                        "match_phrase_prefix": {
                            field: {
                                "query": node.raw,
                                "max_expansions": _MAX_PREFIX_EXPANSIONS,
                                "boost": weight,
                            }
                        }
                    }
                else:
                    q = {"match_phrase": {field: {"query": node.raw, "boost": weight}}}
                queries.append(q)
            return queries[0] if len(queries) == 1 else {"dis_max": {"queries": queries}}
        return self._compile_bool(node)

    def _compile_bool(self, node: Bool) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if node.must:
            body["must"] = [self._compile(n) for n in node.must]
        if node.should:
            body["should"] = [self._compile(n) for n in node.should]
            if not node.must:
                body["minimum_should_match"] = 1
        if node.must_not:
            body["must_not"] = [self._compile(n) for n in node.must_not]
        return {"bool": body}

    def search(self, kind: Kind, query: SearchQuery) -> SearchResult:
        q = query.validate(kind)
        node = parse_query(kind, q.text)
        time_field = TIME_FIELD[kind]
        filters: list[dict[str, Any]] = [
            {"terms": {name: list(values)}} for name, values in q.filters.items() if values
        ]
        if q.since is not None or q.until is not None:
            bounds: dict[str, Any] = {"format": "epoch_millis"}
            if q.since is not None:
                bounds["gte"] = to_ms(q.since)
            if q.until is not None:
                bounds["lt"] = to_ms(q.until)
            filters.append({"range": {time_field: bounds}})
        must = [self._compile(node)] if node is not None else [{"match_all": {}}]
        newest = [{time_field: {"order": "desc"}}, {"id": {"order": "asc"}}]
        body: dict[str, Any] = {
            "query": {"bool": {"must": must, "filter": filters}},
            "sort": newest if q.sort == "newest" else ["_score", *newest],
            "track_total_hits": True,
            "from": q.offset,
            "size": q.size,
        }
        if q.highlight and node is not None:
            body["highlight"] = {
                "encoder": "html",
                "pre_tags": ["<mark>"],
                "post_tags": ["</mark>"],
                "require_field_match": False,
                "fields": {
                    name: {"number_of_fragments": 0}
                    if name in ("title", "summary")
                    else {"fragment_size": 160, "number_of_fragments": 1}
                    for name in TEXT_FIELDS[kind]
                },
            }
        aggs: dict[str, Any] = {}
        if q.histogram is not None:
            aggs["histogram"] = {
                "date_histogram": {
                    "field": time_field,
                    # in ms, as fill_histogram steps: "1.5s" as "1s" shifted every bucket
                    "fixed_interval": f"{round(q.histogram.total_seconds() * 1000)}ms",
                    "min_doc_count": 1,
                }
            }
        for name in q.facets:
            aggs[f"facet_{name}"] = {"terms": {"field": name, "size": 10}}
        if aggs:
            body["aggs"] = aggs
        try:
            resp = self._es.search(index=self.alias(kind), **body)
        except (ApiError, TransportError) as exc:
            raise self._fail("search failed", exc) from exc
        hits = [
            Hit(
                id=h["_id"],
                doc=h["_source"],
                score=h.get("_score"),
                highlights={k: list(v) for k, v in h.get("highlight", {}).items()},
            )
            for h in resp["hits"]["hits"]
        ]
        histogram = []
        if q.histogram is not None:
            counts = {
                int(b["key"]): int(b["doc_count"])
                for b in resp["aggregations"]["histogram"]["buckets"]
            }
            histogram = fill_histogram(counts, q.histogram, q.since, q.until or q.histogram_until)
        facets = {
            name: [
                (str(b["key"]), int(b["doc_count"]))
                for b in resp["aggregations"][f"facet_{name}"]["buckets"]
            ]
            for name in q.facets
        }
        return SearchResult(
            total=int(resp["hits"]["total"]["value"]),
            hits=hits,
            histogram=histogram,
            facets=facets,
        )

    def get(self, kind: Kind, doc_id: str) -> dict[str, Any] | None:
        try:
            resp = self._es.get(index=self.alias(kind), id=doc_id)
        except NotFoundError:
            return None
        except (ApiError, TransportError) as exc:
            raise self._fail("get failed", exc) from exc
        source: dict[str, Any] = resp["_source"]
        return source

    def check(self) -> str:
        # GET / needs the rest-root module, which minimal distributions lack: ask the
        # cluster and the nodes instead, which every distribution answers.
        try:
            health = self._es.cluster.health()
            nodes = self._es.nodes.info(metric="settings")["nodes"]
        except (ApiError, TransportError) as exc:
            raise self._fail("cannot connect", exc) from exc
        versions = sorted({n["version"] for n in nodes.values()})
        oldest = versions[0] if versions else "unknown"
        if versions and int(oldest.split(".")[0]) < 8:
            raise StoreError(
                f"store.elasticsearch.hosts: Elasticsearch {oldest} is too old; 8.x or later"
            )
        analysis = "rich" if self.rich_analysis() else "standard"
        return (
            f"Elasticsearch {'/'.join(versions)} at {','.join(self.settings.hosts)} "
            f"(cluster {health['cluster_name']}, status {health['status']}, "
            f"{len(nodes)} node(s), {analysis} text analysis)"
        )

    def drop(self) -> None:
        try:
            for kind in ("mentions", "alerts"):
                self._es.indices.delete(index=f"{self.alias(kind)}-v*", ignore_unavailable=True)
                with contextlib.suppress(NotFoundError):  # never written: nothing to drop
                    self._es.indices.delete_index_template(name=self.alias(kind))
        except (ApiError, TransportError) as exc:
            raise self._fail("cannot delete indices", exc) from exc

    def close(self) -> None:
        self._es.close()
