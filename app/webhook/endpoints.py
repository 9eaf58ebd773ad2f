"""Routes of the webhook domain."""

from fastapi import APIRouter

router = APIRouter()
