"""Routes of the messages domain."""

from fastapi import APIRouter

router = APIRouter()
