"""Routes of the conversations domain."""

from fastapi import APIRouter

router = APIRouter()
