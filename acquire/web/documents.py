"""The document routes of the router: a job's stored filings, their text and 10-K items.

::

    GET /jobs/{id}/documents                          200 {"documents": [reference, ...]}
    GET /jobs/{id}/documents/{doc}                    the document's bytes (streamed)
    GET /jobs/{id}/documents/{doc}/text               text/plain: its visible text
    GET /jobs/{id}/documents/{doc}/sections           200 {"sections": [item summary, ...]}
    GET /jobs/{id}/documents/{doc}/sections/{item}    200 the item with its text

``{doc}`` is an accession number or the document's sha256, looked up only among the job's
own documents: the caller's org must own the job (the same ``authorize`` as every route), so
another org's document, a missing one and a malformed name all get the same 404. The
document response carries its ``Content-Type``, ``Content-Length`` and ``ETag`` (the sha256)
and answers ``If-None-Match`` with 304.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from acquire.client import AcquireClient
from acquire.store.documents import DocumentNotFoundError

__all__ = ["DocumentEndpoints"]

_NAME = re.compile(r"[0-9]{10}-[0-9]{2}-[0-9]{6}|[0-9a-f]{64}")
_ITEM = re.compile(r"[0-9]{1,2}[A-C]?")


class DocumentEndpoints:
    """Handlers for the document routes; ``org_and_job`` authorises and validates the job id."""

    def __init__(
        self, client: AcquireClient, org_and_job: Callable[[Request], Awaitable[tuple[str, str]]]
    ) -> None:
        self.client = client
        self._org_and_job = org_and_job

    async def _target(self, request: Request) -> tuple[str, str, str]:
        org, job_id = await self._org_and_job(request)
        await self.client.store.get_status(org, job_id)  # another org's job: "job not found"
        name: str = request.path_params["document"]
        if not _NAME.fullmatch(name):
            raise DocumentNotFoundError(name)
        return org, job_id, name

    async def list_documents(self, request: Request) -> Response:
        org, job_id = await self._org_and_job(request)
        documents = await self.client.job(org, job_id).documents()
        return JSONResponse({"documents": [d.model_dump(mode="json", exclude_none=True) for d in documents]})

    async def document(self, request: Request) -> Response:
        org, job_id, name = await self._target(request)
        ref, size, chunks = await self.client.documents.open(org, job_id, name)
        etag = f'"{ref.sha256}"'
        headers = {"ETag": etag, "Content-Length": str(size), "Cache-Control": "private, max-age=3600"}
        if etag in _tags(request.headers.get("if-none-match", "")):
            await chunks.aclose()  # type: ignore[attr-defined]
            return Response(status_code=304, headers={"ETag": etag})
        return StreamingResponse(chunks, media_type=ref.content_type, headers=headers)

    async def text(self, request: Request) -> Response:
        org, job_id, name = await self._target(request)
        return PlainTextResponse(await self.client.documents.text(org, job_id, name))

    async def sections(self, request: Request) -> Response:
        org, job_id, name = await self._target(request)
        sections = await self.client.documents.sections(org, job_id, name)
        return JSONResponse({"sections": [{k: v for k, v in s.items() if k != "text"} for s in sections]})

    async def section(self, request: Request) -> Response:
        org, job_id, name = await self._target(request)
        item = str(request.path_params["item"]).upper()
        if not _ITEM.fullmatch(item):
            raise DocumentNotFoundError(item)
        for section in await self.client.documents.sections(org, job_id, name):
            if section["item"] == item:
                return JSONResponse(section)
        raise DocumentNotFoundError(item)


def _tags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",")} if header else set()
