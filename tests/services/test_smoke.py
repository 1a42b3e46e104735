from services.auth.accounts import log_in, sign_up


async def test_signup_login(tctx):
    user = await sign_up(tctx, email="A@Example.com", password="correct horse battery", name="Ann")
    assert user.role == "owner" and user.email == "a@example.com"
    again = await log_in(tctx, email="a@example.com", password="correct horse battery")
    assert again.id == user.id
