"""/admin while no admin login is configured."""

import httpx


async def test_admin_without_a_login_configured_says_how_to_turn_it_on(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/admin", "/admin/", "/admin/conversation/list"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        page = response.text
        assert "The admin panel is off" in page
        assert "ADMIN_USERNAME" in page
        assert "ADMIN_PASSWORD_HASH=&#x27;" in page or "ADMIN_PASSWORD_HASH='" in page
        assert "whatsapp-inbox hash-password" in page
