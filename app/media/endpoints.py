"""Routes of the media domain."""

from fastapi import APIRouter

router = APIRouter()
